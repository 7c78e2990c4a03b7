package org.driftml.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A model's chat template (the {@code chat_template} of {@code tokenizer_config.json}, or {@code chat_template.jinja})
 * rendered with Jinjava configured to behave as transformers' jinja2 environment does, measured against it:
 * <ul>
 *   <li>{@code trim_blocks} and {@code lstrip_blocks} on, as transformers sets them;</li>
 *   <li>nested interpretation off: otherwise <code>{{ }}</code> inside a user's message is evaluated;</li>
 *   <li>trimming for notes and expressions on: otherwise <code>{{-</code> leaves whitespace jinja2 strips (never
 *       {@code LegacyOverrides.ALL}, which changes other behaviour);</li>
 *   <li>{@code raise_exception(msg)} fails the render, and {@code tojson} writes Python's json.dumps layout.</li>
 * </ul>
 */
public final class ChatTemplate {
    private final String template;
    private final Map<String, Object> specialTokens;
    private final Jinjava jinjava;

    ChatTemplate(String template, Map<String, Object> specialTokens) {
        this.template = template;
        this.specialTokens = specialTokens;
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withNestedInterpretationEnabled(false)
                .withLegacyOverrides(LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true).build())
                .build();
        this.jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now",
                ChatTemplate.class, "strftimeNow", String.class));
        jinjava.getGlobalContext().registerFilter(new Filter() {
            @Override
            public String getName() {
                return "tojson";
            }

            @Override
            public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
                return PythonJson.dumps(var);
            }
        });
    }

    /** Called by templates: aborts the render with the template's own message. */
    public static String raiseException(String message) {
        throw new ChatTemplateException(message);
    }

    /** Called by templates (Llama 3.1's dates its system prompt): today in Python's strftime format, local time. */
    public static String strftimeNow(String format) {
        return Strftime.format(java.time.ZonedDateTime.now(), format);
    }

    /** Thrown when a template rejects a conversation ({@code raise_exception}) or fails to render. */
    public static final class ChatTemplateException extends RuntimeException {
        ChatTemplateException(String message) {
            super(message);
        }
    }

    /** Loads the template of a model or tokenizer folder. */
    public static ChatTemplate load(Path folder) throws IOException {
        Path configPath = folder.resolve("tokenizer_config.json");
        JsonNode config = Files.exists(configPath) ? new ObjectMapper().readTree(configPath.toFile())
                : new ObjectMapper().createObjectNode();
        String template = null;
        JsonNode t = config.path("chat_template");
        if (t.isTextual()) {
            template = t.asText();
        } else if (t.isArray()) {  // named templates: [{"name": "default", "template": ...}, ...]
            for (JsonNode named : t) {
                if (named.path("name").asText().equals("default")) {
                    template = named.path("template").asText();
                }
            }
        }
        Path file = folder.resolve("chat_template.jinja");
        if (template == null && Files.exists(file)) {
            template = Files.readString(file);
        }
        if (template == null) {
            throw new IOException(folder + ": no chat_template in tokenizer_config.json and no chat_template.jinja");
        }
        Map<String, Object> special = new HashMap<>();
        for (String name : new String[] {"bos_token", "eos_token", "pad_token", "unk_token"}) {
            JsonNode v = config.path(name);
            if (v.isTextual()) {
                special.put(name, v.asText());
            } else if (v.isObject() && v.path("content").isTextual()) {
                special.put(name, v.path("content").asText());
            }
        }
        return new ChatTemplate(template, special);
    }

    /** Parses a template string directly (e.g. a template file a user passes). */
    public static ChatTemplate of(String template) {
        return new ChatTemplate(template, Map.of());
    }

    /** Renders plain {role, content} turns. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return renderConversation(messages.stream().map(ChatMessage::asMap).collect(Collectors.toList()), null,
                addGenerationPrompt);
    }

    /**
     * Renders messages given as JSON-like maps (role, content, tool_calls, ...), with optional tool schemas, exactly
     * as transformers' {@code apply_chat_template(..., tokenize=False)}.
     */
    public String renderConversation(List<Map<String, Object>> messages, List<Object> tools,
            boolean addGenerationPrompt) {
        Map<String, Object> bindings = new HashMap<>(specialTokens);
        bindings.put("messages", messages);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        if (tools != null) {
            bindings.put("tools", tools);
        }
        RenderResult result = jinjava.renderForResult(template, bindings);
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                Throwable cause = error.getException();
                while (cause != null && !(cause instanceof ChatTemplateException)) {
                    cause = cause.getCause();
                }
                throw cause != null ? (ChatTemplateException) cause
                        : new ChatTemplateException("chat template failed at line " + error.getLineno() + ": "
                                + error.getMessage());
            }
        }
        return result.getOutput();
    }
}
