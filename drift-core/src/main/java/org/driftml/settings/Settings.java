package org.driftml.settings;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Values for a fixed list of {@link Setting}s, every one set and each checked by its own declaration: the common
 * part of a config record ({@code DpoConfig}, {@code DriftConfig}). Immutable; {@link #with} makes a changed copy.
 */
public final class Settings {
    private final List<Setting<?>> declared;
    private final Map<Setting<?>, Object> values;

    private Settings(List<Setting<?>> declared, Map<Setting<?>, Object> values) {
        this.declared = declared;
        this.values = values;
    }

    /** Each of {@code declared} at its declared default, in their order. */
    public static Settings defaults(List<Setting<?>> declared) {
        Map<Setting<?>, Object> v = new LinkedHashMap<>();
        for (Setting<?> s : declared) {
            if (s.defaultValue() == null) {
                throw new IllegalArgumentException("no default declared for " + s);
            }
            v.put(s, s.defaultValue());
        }
        return new Settings(List.copyOf(declared), Collections.unmodifiableMap(v));
    }

    public List<Setting<?>> declared() {
        return declared;
    }

    public <T> T get(Setting<T> s) {
        if (!values.containsKey(s)) {
            throw new IllegalArgumentException("not one of these settings: " + s);
        }
        return s.type().cast(values.get(s));
    }

    /**
     * A copy with {@code s} set to {@code value}.
     *
     * @throws InvalidSettingException when {@code s} does not take {@code value}
     */
    public <T> Settings with(Setting<T> s, T value) {
        get(s);
        Map<Setting<?>, Object> v = new LinkedHashMap<>(values);
        v.put(s, s.check(value));
        return new Settings(declared, Collections.unmodifiableMap(v));
    }

    /** Every setting by its key, as {@code run.json} and {@code --print-config} write them, in declared order. */
    public Map<String, Object> recorded() {
        Map<String, Object> m = new LinkedHashMap<>();
        for (Setting<?> s : declared) {
            m.put(s.key(), record(s));
        }
        return m;
    }

    private <T> Object record(Setting<T> s) {
        return s.recorded(get(s));
    }

    /** The declared settings that are in {@code groups}' order, for a command's options. */
    public static List<Setting<?>> concat(List<? extends Setting<?>>... groups) {
        List<Setting<?>> all = new ArrayList<>();
        for (List<? extends Setting<?>> g : groups) {
            all.addAll(g);
        }
        return List.copyOf(all);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Settings other && values.equals(other.values);
    }

    @Override
    public int hashCode() {
        return Objects.hash(values);
    }

    @Override
    public String toString() {
        return recorded().toString();
    }
}
