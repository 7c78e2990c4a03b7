package org.driftml.cli;

import java.util.List;
import org.driftml.drift.Recipe;
import org.driftml.settings.InvalidSettingException;
import org.driftml.settings.Settable;
import org.driftml.settings.Setting;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The options a command takes from declared {@link Setting}s, added to its picocli model when it is built: one
 * option per setting, named by it (with its older spellings as aliases), described by its meaning, unit, values,
 * default and source, and read by its own parser, so a bad value is refused naming its option. {@code --config}
 * keys are the same names ({@link ConfigFile}).
 */
final class SettingOptions implements CommandLine.IModelTransformer {
    /** A command whose options include declared settings. */
    interface Declared {
        /** The settings it takes, in the order its help lists them (each at its declared default unless given). */
        List<Setting<?>> settings();

        /** The value {@code s} has when nothing gives it, and where that comes from (help shows both). */
        default Recipe.Value defaultOf(Setting<?> s) {
            return new Recipe.Value(s.defaultValue(), s.source());
        }
    }

    @Override
    public CommandSpec transform(CommandSpec spec) {
        if (spec.userObject() instanceof Declared d) {
            for (Setting<?> s : d.settings()) {
                spec.addOption(option(s, d.defaultOf(s)));
            }
            spec.addOption(OptionSpec.builder(PRINT_CONFIG).type(Boolean.class).description(
                    "Print the settings this command would run with as one JSON object (TRL's names, each value's",
                    "source), which --config reads back, and exit").build());
        }
        return spec;
    }

    static final String PRINT_CONFIG = "--print-config";

    /**
     * With {@code --print-config}, prints the resolved settings and returns true: the command then exits 0 without
     * working. A {@code --config} file's derived keys are checked against them first. The settings are only made when
     * one of the two needs them.
     *
     * @throws CommandLine.ParameterException naming the file and key when a derived key differs
     */
    static boolean checkedAndPrinted(CommandSpec spec, ConfigFile.Applied applied,
            java.util.function.Supplier<PrintedConfig> resolved) throws java.io.IOException {
        OptionSpec o = spec.findOption(PRINT_CONFIG);
        boolean print = o != null && Boolean.TRUE.equals(o.getValue());
        if (applied.file() == null && !print) {
            return false;
        }
        PrintedConfig config = resolved.get();
        if (applied.file() != null) {
            config.check(spec, applied.file(), applied.derived());
        }
        if (print) {
            java.io.PrintWriter out = spec.commandLine().getOut();
            out.println(JsonLines.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config.json()));
            out.flush();
        }
        return print;
    }

    /**
     * Where {@code s}'s value came from: the command line ({@code option}), the {@code --config} file, or else
     * {@code otherwise}.
     */
    static String sourceOf(CommandSpec spec, ConfigFile.Applied applied, Setting<?> s, String otherwise) {
        String given = applied.sourceOf(spec, spec.findOption(s.option()));
        return given != null ? given : otherwise;
    }

    private static <T> OptionSpec option(Setting<T> s, Recipe.Value byDefault) {
        Object shown = byDefault.value();
        String[] names = new String[1 + s.aliases().size()];
        names[0] = s.option();
        for (int i = 0; i < s.aliases().size(); i++) {
            names[i + 1] = s.aliases().get(i);
        }
        String unit = s.unit().isEmpty() ? "" : s.unit() + "; ";
        String shownText = shown == null ? "" : "default " + recorded(s, shown) + ", ";
        OptionSpec.Builder b = OptionSpec.builder(names).type(s.type()).description(
                capitalised(s.meaning()) + " (" + unit + shownText + byDefault.source() + ")");
        if (s.type() != Boolean.class) {
            b.paramLabel(s.range().contains("|") ? s.range() : s.key().toUpperCase(java.util.Locale.ROOT))
                    .converters(text -> {
                        try {
                            return s.parse(text);
                        } catch (InvalidSettingException e) {
                            throw new CommandLine.TypeConversionException(e.forOption().substring(
                                    s.option().length() + 2));
                        }
                    });
        }
        return b.build();
    }

    private static <T> Object recorded(Setting<T> s, Object value) {
        return s.recorded(s.type().cast(value));
    }

    private static String capitalised(String text) {
        return Character.toUpperCase(text.charAt(0)) + text.substring(1);
    }

    /**
     * What a command prints for a bad setting: a declared setting's problem after its option ({@code --beta: must be
     * > 0, got -1.0}); any other message as it is (those name their option themselves).
     */
    static String message(Exception e) {
        return e instanceof InvalidSettingException i ? i.forOption() : e.getMessage();
    }

    /** {@code config} with each of {@code settings} that the command line or {@code --config} gave. */
    static <C extends Settable<C>> C applied(CommandSpec spec, C config, List<Setting<?>> settings) {
        for (Setting<?> s : settings) {
            config = appliedOne(spec, config, s);
        }
        return config;
    }

    private static <C extends Settable<C>, T> C appliedOne(CommandSpec spec, C config, Setting<T> s) {
        T v = given(spec, s);
        return v == null ? config : config.with(s, v);
    }

    /** The value given for {@code s}, or its declared default. */
    static <T> T givenOr(CommandSpec spec, Setting<T> s) {
        T v = given(spec, s);
        return v != null ? v : s.defaultValue();
    }

    /** The value given for {@code s} on the command line or in {@code --config}, or null. */
    static <T> T given(CommandSpec spec, Setting<T> s) {
        OptionSpec o = spec.findOption(s.option());
        Object v = o == null ? null : o.getValue();
        return v == null ? null : s.check(s.type().cast(v));
    }
}
