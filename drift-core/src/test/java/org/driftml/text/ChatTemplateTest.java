package org.driftml.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.driftml.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against transformers' apply_chat_template (scripts/parity/make_chat_template_fixtures.py). */
class ChatTemplateTest {
    @Test
    void rendersByteIdenticalToTransformersForQwen2AndQwen25() throws Exception {
        ObjectMapper json = new ObjectMapper();
        JsonNode cases = json.readTree(Path.of(getClass().getResource("/parity/chat-template-cases.json").toURI())
                .toFile()).get("cases");
        ChatTemplate qwen2 = ChatTemplate.load(Fixtures.qwen2Tokenizer());
        ChatTemplate qwen25 = ChatTemplate.of(Files.readString(
                Fixtures.qwen2Tokenizer().resolve("qwen2.5-instruct-chat-template.jinja")));
        int checked = 0;
        for (JsonNode c : cases) {
            ChatTemplate template = c.get("template").asText().equals("qwen2") ? qwen2 : qwen25;
            List<Map<String, Object>> messages = json.convertValue(c.get("messages"), new TypeReference<>() {});
            List<Object> tools = c.has("tools") ? json.convertValue(c.get("tools"), new TypeReference<>() {}) : null;
            String got = template.renderConversation(messages, tools, c.get("add_generation_prompt").asBoolean());
            assertEquals(c.get("expected").asText(), got, () -> c.get("template") + " / " + c.get("name") + " / gen="
                    + c.get("add_generation_prompt"));
            checked++;
        }
        assertEquals(26, checked);
    }

    @Test
    void plainTurnsRenderThroughTheRecordApi() throws Exception {
        ChatTemplate qwen2 = ChatTemplate.load(Fixtures.qwen2Tokenizer());
        assertEquals("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\n", qwen2.render(List.of(ChatMessage.user("Hi")), true));
    }

    @Test
    void raiseExceptionFailsTheRender() {
        ChatTemplate strict = ChatTemplate.of("{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
                + "{{ raise_exception('Conversation roles must be user or assistant') }}{% endif %}"
                + "{{ m.content }}{% endfor %}");
        ChatTemplate.ChatTemplateException e = assertThrows(ChatTemplate.ChatTemplateException.class,
                () -> strict.render(List.of(ChatMessage.system("s"), ChatMessage.user("u")), false));
        assertEquals("Conversation roles must be user or assistant", e.getMessage());
        assertEquals("u", strict.render(List.of(ChatMessage.user("u")), false));
    }

    @Test
    void strftimeFormatsDatesAsPythonDoes() {
        java.time.ZonedDateTime t = java.time.ZonedDateTime.of(2026, 11, 8, 3, 51, 7, 0, java.time.ZoneOffset.UTC);
        assertEquals("08 Nov 2026", Strftime.format(t, "%d %b %Y"));  // Llama 3.1's "Today Date"
        assertEquals("Sunday, November 08 26 03:51:07 %", Strftime.format(t, "%A, %B %d %y %H:%M:%S %%"));
        String today = ChatTemplate.of("{{ strftime_now('%Y') }}").render(List.of(), false);
        assertEquals(String.valueOf(java.time.ZonedDateTime.now().getYear()), today);
        assertThrows(ChatTemplate.ChatTemplateException.class,
                () -> ChatTemplate.of("{{ strftime_now('%Q') }}").render(List.of(), false));
    }

    @Test
    void aFolderWithoutATemplateSaysSo(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{}");
        Exception e = assertThrows(java.io.IOException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().contains("no chat_template"), e.getMessage());
    }

    @Test
    void pythonFloatReprs() {
        assertEquals("3.5", PythonJson.pythonFloat(3.5));
        assertEquals("1.0", PythonJson.pythonFloat(1.0));
        assertEquals("1e-05", PythonJson.pythonFloat(1e-5));
        assertEquals("1.5e+16", PythonJson.pythonFloat(1.5e16));
        assertEquals("-0.001", PythonJson.pythonFloat(-0.001));
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("a", java.util.Arrays.asList(1, 2.5, true, null));
        m.put("é", "x\ny\u0001");
        assertEquals("{\"a\": [1, 2.5, true, null], \"é\": \"x\\ny\\u0001\"}", PythonJson.dumps(m));
    }
}
