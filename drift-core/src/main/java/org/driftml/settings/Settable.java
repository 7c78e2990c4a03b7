package org.driftml.settings;

/** A config made of declared settings, changed one setting at a time into a new copy ({@code DpoConfig}, ...). */
public interface Settable<C extends Settable<C>> {
    /**
     * A copy with {@code s} set to {@code value}.
     *
     * @throws InvalidSettingException naming the setting when it does not take the value
     */
    <T> C with(Setting<T> s, T value);
}
