package org.driftml.settings;

import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One setting, declared once: its name, what it means, its unit, the values it takes, where its default comes from,
 * how its text is read and what it accepts. A command-line option ({@link #option()}), a {@code --config} key, a
 * {@code run.json} entry and an error message are all made from this declaration, so they cannot disagree.
 *
 * @param <T> the value's type (Double, Integer, Long, Boolean, String or an enum)
 */
public final class Setting<T> {
    private final String key;
    private final Class<T> type;
    private final String meaning;
    private final String unit;
    private final String range;
    private final String source;
    private final List<String> aliases;
    private final Function<String, T> parser;
    private final Predicate<T> accepts;
    private final Function<T, Object> recorded;
    private final T defaultValue;

    private Setting(String key, Class<T> type, String meaning, String unit, String range, String source,
            List<String> aliases, Function<String, T> parser, Predicate<T> accepts, Function<T, Object> recorded,
            T defaultValue) {
        if (!key.matches("[a-z][a-z0-9_]*")) {
            throw new IllegalArgumentException("a setting's key is snake_case: " + key);
        }
        this.key = key;
        this.type = type;
        this.meaning = meaning;
        this.unit = unit;
        this.range = range;
        this.source = source;
        this.aliases = List.copyOf(aliases);
        this.parser = parser;
        this.accepts = accepts;
        this.recorded = recorded;
        this.defaultValue = defaultValue == null ? null : check(defaultValue);
    }

    /**
     * A real number in {@code range} (described as {@code rangeText}); NaN and infinities never pass.
     *
     * @param def    the value when nothing sets it, as {@code source} gives it
     * @param source where the default comes from: the paper's section, the release's config, TRL, or drift's choice
     */
    public static Setting<Double> real(String key, String meaning, String unit, String rangeText,
            Predicate<Double> range, double def, String source) {
        return new Setting<>(key, Double.class, meaning, unit, rangeText, source, List.of(), Double::valueOf,
                v -> Double.isFinite(v) && range.test(v), v -> v, def);
    }

    /** A whole number in {@code range}. */
    public static Setting<Integer> whole(String key, String meaning, String unit, String rangeText,
            Predicate<Integer> range, int def, String source) {
        return new Setting<>(key, Integer.class, meaning, unit, rangeText, source, List.of(), Integer::valueOf, range,
                v -> v, def);
    }

    /** A 64-bit whole number (seeds). */
    public static Setting<Long> wide(String key, String meaning, long def, String source) {
        return new Setting<>(key, Long.class, meaning, "", "any integer", source, List.of(), Long::valueOf, v -> true,
                v -> v, def);
    }

    /** On or off: a flag on the command line. */
    public static Setting<Boolean> flag(String key, String meaning, boolean def, String source) {
        return new Setting<>(key, Boolean.class, meaning, "", "true or false", source, List.of(), Setting::bool,
                v -> true, v -> v, def);
    }

    /** One of {@code type}'s constants, written in lower case with {@code -} for {@code _}. */
    public static <E extends Enum<E>> Setting<E> choice(String key, Class<E> type, String meaning, E def,
            String source) {
        List<String> names = java.util.Arrays.stream(type.getEnumConstants()).map(Setting::spelling).toList();
        String words = names.size() == 1 ? names.get(0)
                : String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.get(names.size() - 1);
        return new Setting<>(key, type, meaning, "", String.join("|", names), source, List.of(), text -> {
            for (E e : type.getEnumConstants()) {
                if (spelling(e).equals(text.trim().toLowerCase(Locale.ROOT).replace('_', '-'))) {
                    return e;
                }
            }
            throw new IllegalArgumentException("must be " + words);
        }, v -> true, Setting::spelling, def);
    }

    /** A value read by {@code parser} (which names what is wrong), recorded by {@code recorded}. */
    public static <V> Setting<V> parsed(String key, Class<V> type, String meaning, String rangeText,
            Function<String, V> parser, Function<V, Object> recorded, V def, String source) {
        return new Setting<>(key, type, meaning, "", rangeText, source, List.of(), parser, v -> true, recorded, def);
    }

    /** This setting also answering to {@code --alias} on the command line (an older spelling). */
    public Setting<T> alsoCalled(String... alias) {
        return new Setting<>(key, type, meaning, unit, range, source, List.of(alias), parser, accepts, recorded,
                defaultValue);
    }

    private static String spelling(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private static Boolean bool(String text) {
        return switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("not true or false");
        };
    }

    /** The snake_case name: the {@code --config} key, the {@code run.json} key (TRL's name where TRL has one). */
    public String key() {
        return key;
    }

    /** The command-line option: {@code --} and the key with {@code -} for {@code _}. */
    public String option() {
        return "--" + key.replace('_', '-');
    }

    /** Older option spellings that still work. */
    public List<String> aliases() {
        return aliases.stream().map(a -> "--" + a.replace('_', '-')).toList();
    }

    /** The value when nothing sets it ({@link #source()} says where it comes from). */
    public T defaultValue() {
        return defaultValue;
    }

    public Class<T> type() {
        return type;
    }

    public String meaning() {
        return meaning;
    }

    public String unit() {
        return unit;
    }

    /** The values it takes, in words ({@code "> 0"}, {@code "sigmoid|ipo"}). */
    public String range() {
        return range;
    }

    /** Where its default comes from: the paper's section, the release's config, TRL, or drift's own choice. */
    public String source() {
        return source;
    }

    /**
     * Reads {@code text} as this setting's value.
     *
     * @throws InvalidSettingException naming this setting when the text is not a value it takes
     */
    public T parse(String text) {
        T value;
        try {
            value = parser.apply(Objects.requireNonNull(text, key));
        } catch (IllegalArgumentException e) {
            throw new InvalidSettingException(this, text, e instanceof NumberFormatException
                    ? "not a " + type.getSimpleName().toLowerCase(Locale.ROOT) : e.getMessage());
        }
        return check(value);
    }

    /**
     * {@code value}, if this setting takes it.
     *
     * @throws InvalidSettingException naming this setting otherwise
     */
    public T check(T value) {
        if (value == null || !accepts.test(value)) {
            throw new InvalidSettingException(this, value, "must be " + range);
        }
        return value;
    }

    /** The value as {@code run.json} and {@code --print-config} write it (an enum by its spelling). */
    public Object recorded(T value) {
        return recorded.apply(value);
    }

    @Override
    public String toString() {
        return key;
    }
}
