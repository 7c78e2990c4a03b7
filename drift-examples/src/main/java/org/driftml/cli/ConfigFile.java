package org.driftml.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * A command's {@code --config FILE}: a JSON or YAML mapping whose keys are the command's long option names
 * ({@code learning-rate}, or TRL's {@code learning_rate}) and whose values are what the command line would take.
 * Options given on the command line win; an unknown key or a bad value names the file and the key.
 */
final class ConfigFile {
    // Strict: a key given twice (which one would win?) and anything after the mapping are errors, not ignored.
    private static final ObjectMapper YAML = YAMLMapper.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
    private static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    private ConfigFile() {}

    /**
     * What a file gave: the options it set (those the command line left unset), and the keys {@code --print-config}
     * writes that follow from the others ({@link PrintedConfig#DERIVED}), for the command to check.
     */
    record Applied(Path file, java.util.Set<OptionSpec> set, java.util.Map<String, JsonNode> derived) {
        static final Applied NONE = new Applied(null, java.util.Set.of(), java.util.Map.of());

        /** Where {@code option}'s value came from: the command line, this file, or neither (null). */
        String sourceOf(CommandSpec spec, OptionSpec option) {
            CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
            if (option == null) {
                return null;
            } else if (parsed != null && parsed.hasMatchedOption(option)) {
                return "option";
            }
            return set.contains(option) ? "config:" + file : null;
        }
    }

    /** Fills every option of {@code spec} that the command line left unset from {@code file}. */
    static Applied apply(CommandSpec spec, Path file) throws IOException {
        String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        boolean yaml = name.endsWith(".yaml") || name.endsWith(".yml");
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw error(spec, "--config: " + file + ": no such file");
        }
        JsonNode root;
        try {
            root = (yaml ? YAML : JSON).readTree(file.toFile());
        } catch (JsonProcessingException e) {
            var at = e.getLocation();
            throw error(spec, file + (at != null ? ":" + at.getLineNr() : "") + ": not valid " + (yaml ? "YAML" : "JSON")
                    + ": " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw error(spec, file + ": expected a mapping of settings (" + (yaml ? "key: value" : "a JSON object")
                    + ")");
        }
        CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        java.util.Set<OptionSpec> set = new java.util.HashSet<>();
        java.util.Map<String, JsonNode> derived = new java.util.LinkedHashMap<>();
        for (var it = root.fields(); it.hasNext();) {
            var e = it.next();
            String key = e.getKey().replace('_', '-');
            OptionSpec option = spec.findOption("--" + key);
            if (option == null && PrintedConfig.DERIVED.contains(e.getKey())
                    && spec.findOption(SettingOptions.PRINT_CONFIG) != null) {
                derived.put(e.getKey(), e.getValue());  // checked by the command once it has resolved the rest
                continue;
            }
            if (option == null || key.equals("config") || option.usageHelp() || option.versionHelp()) {
                throw error(spec, file + ": unknown setting \"" + e.getKey() + "\" (settings are the long option names of "
                        + spec.qualifiedName() + ", e.g. " + firstOption(spec) + ")");
            }
            if (parsed != null && parsed.hasMatchedOption(option)) {
                continue;  // the command line wins
            }
            option.setValue(option.converters() != null && option.converters().length > 0
                    ? converted(spec, file, e.getKey(), e.getValue(), option)
                    : valueOf(spec, file, e.getKey(), e.getValue(), option.type()));
            set.add(option);
        }
        return new Applied(file, set, derived);
    }

    private static Object valueOf(CommandSpec spec, Path file, String key, JsonNode v, Class<?> type) {
        try {
            if (type == Double.class || type == double.class) {
                return v.isNumber() ? v.asDouble() : Double.valueOf(v.asText());
            } else if (type == Integer.class || type == int.class) {
                return v.canConvertToInt() && v.isIntegralNumber() ? v.asInt() : Integer.valueOf(v.asText());
            } else if (type == Long.class || type == long.class) {
                return v.isIntegralNumber() ? v.asLong() : Long.valueOf(v.asText());
            } else if (type == Boolean.class || type == boolean.class) {
                if (v.isBoolean()) {
                    return v.asBoolean();
                }
                throw new NumberFormatException("not a boolean");
            } else if (type == Path.class) {
                return Path.of(v.asText());
            } else if (type.isEnum()) {
                for (Object c : type.getEnumConstants()) {
                    if (c.toString().equalsIgnoreCase(v.asText())) {
                        return c;
                    }
                }
                throw new NumberFormatException("not one of " + java.util.Arrays.toString(type.getEnumConstants()));
            } else if (v.isContainerNode()) {
                throw new NumberFormatException("a list or mapping");
            }
            return v.asText();
        } catch (NumberFormatException ex) {
            throw error(spec, file + ": \"" + key + "\" = " + v + " is not a valid " + type.getSimpleName());
        }
    }

    /** A declared setting's value, read and checked by its own declaration (SettingOptions). */
    private static Object converted(CommandSpec spec, Path file, String key, JsonNode v, OptionSpec option) {
        if (v.isContainerNode() || v.isNull()) {
            throw error(spec, file + ": \"" + key + "\" = " + v + " is not a single value");
        }
        try {
            return option.converters()[0].convert(v.asText());
        } catch (Exception ex) {
            throw error(spec, file + ": \"" + key + "\" = " + v + ": " + ex.getMessage());
        }
    }

    private static String firstOption(CommandSpec spec) {
        return spec.options().stream().filter(o -> !o.usageHelp() && !o.versionHelp())
                .map(o -> o.longestName().replaceFirst("^--", "")).findFirst().orElse("none");
    }

    private static CommandLine.ParameterException error(CommandSpec spec, String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
