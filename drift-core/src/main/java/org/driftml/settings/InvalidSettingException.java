package org.driftml.settings;

/**
 * A value a setting does not take. It carries the {@link Setting}, so a command names its own option ({@link
 * Setting#option()}) and a library caller its key, without reading the message.
 */
public final class InvalidSettingException extends IllegalArgumentException {
    private final transient Setting<?> setting;
    private final String problem;

    public InvalidSettingException(Setting<?> setting, Object value, String problem) {
        super(setting.key() + " " + problem + ", got " + value);
        this.setting = setting;
        this.problem = problem + ", got " + value;
    }

    public Setting<?> setting() {
        return setting;
    }

    /** The message with the command-line option in front: {@code --beta: must be > 0, got -1}. */
    public String forOption() {
        return setting.option() + ": " + problem;
    }
}
