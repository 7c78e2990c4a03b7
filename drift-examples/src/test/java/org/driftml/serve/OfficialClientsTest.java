package org.driftml.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import org.driftml.cli.Drift;
import picocli.CommandLine;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The clients a JVM team already has, unchanged but for the base URL: OpenAI's Java SDK and LangChain4j's OpenAI
 * chat models, whole and streamed. What they receive is what {@code drift generate} gives for the same messages,
 * settings and seed.
 */
class OfficialClientsTest {
    private static ChatServer server;

    @BeforeAll
    static void serve() throws Exception {
        server = ServeTestSupport.serve(4, 64, ServeTestSupport.KEY);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static OpenAIClient openai(String key) {
        return OpenAIOkHttpClient.builder().baseUrl(ServeTestSupport.base(server) + "/v1").apiKey(key)
                .timeout(Duration.ofSeconds(120)).maxRetries(0).build();
    }

    /** drift generate's reply to one user message, sampled at temperature 0.8 with {@code seed}. */
    private static JsonNode generated(String content, int maxNew, long seed) throws Exception {
        String line = "{\"messages\": [{\"role\": \"user\", \"content\": " + ChatServer.JSON.valueToTree(content)
                + "}]}";
        StringWriter out = new StringWriter(), err = new StringWriter();
        java.io.InputStream saved = System.in;
        int code;
        try {
            System.setIn(new ByteArrayInputStream(line.getBytes(StandardCharsets.UTF_8)));
            CommandLine cli = Drift.commandLine();  // generate reads stdin as it is when made
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(err));
            code = cli.execute("generate", "--model", ServeTestSupport.modelFolder().toString(), "--max-new-tokens",
                    Integer.toString(maxNew), "--temperature", "0.8", "--seed", Long.toString(seed));
        } finally {
            System.setIn(saved);
        }
        assertEquals(0, code, err.toString());
        return ChatServer.JSON.readTree(out.toString().strip());
    }

    private static ChatCompletionCreateParams params(String content, long seed) {
        return ChatCompletionCreateParams.builder().model(ServeTestSupport.MODEL).addUserMessage(content)
                .maxCompletionTokens(24).temperature(0.8).seed(seed).build();
    }

    @Test
    void openAiSdkGetsDriftGeneratesSeededReply() throws Exception {
        JsonNode want = generated("Tell me a story", 24, 5);
        ChatCompletion c = openai(ServeTestSupport.KEY).chat().completions().create(params("Tell me a story", 5));
        assertEquals(want.get("text").asText(), c.choices().get(0).message().content().orElseThrow());
        assertEquals(want.get("finish_reason").asText(), c.choices().get(0).finishReason().asString());
        assertEquals(want.get("output_ids").size(), c.usage().orElseThrow().completionTokens());
        assertTrue(c.usage().orElseThrow().promptTokens() > 10);
        assertEquals(ServeTestSupport.MODEL, c.model());
    }

    @Test
    void openAiSdkStreamsTheSameReplyWithUsage() throws Exception {
        JsonNode want = generated("Tell me a story", 24, 11);
        StringBuilder text = new StringBuilder();
        List<String> finishes = new ArrayList<>();
        long[] usage = {-1};
        ChatCompletionCreateParams p = params("Tell me a story", 11).toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        try (StreamResponse<ChatCompletionChunk> stream = openai(ServeTestSupport.KEY).chat().completions()
                .createStreaming(p)) {
            stream.stream().forEach(chunk -> {
                for (ChatCompletionChunk.Choice ch : chunk.choices()) {
                    ch.delta().content().ifPresent(text::append);
                    ch.finishReason().ifPresent(f -> finishes.add(f.asString()));
                }
                chunk.usage().ifPresent(u -> usage[0] = u.completionTokens());
            });
        }
        assertEquals(want.get("text").asText(), text.toString());
        assertEquals(List.of(want.get("finish_reason").asText()), finishes);
        assertEquals(want.get("output_ids").size(), usage[0]);
    }

    @Test
    void openAiSdkSeesOpenAisErrors() {
        assertThrows(UnauthorizedException.class,
                () -> openai("wrong-key").chat().completions().create(params("Hi", 1)));
        NotFoundException missing = assertThrows(NotFoundException.class, () -> openai(ServeTestSupport.KEY).chat()
                .completions().create(params("Hi", 1).toBuilder().model("gpt-4o").build()));
        assertTrue(missing.getMessage().contains("gpt-4o"), missing.getMessage());
        assertEquals(List.of(ServeTestSupport.MODEL), openai(ServeTestSupport.KEY).models().list().data().stream()
                .map(m -> m.id()).toList());
    }

    @Test
    void langChain4jChatModelsTalkToDriftServe() throws Exception {
        String want = generated("Hello there", 16, 3).get("text").asText();
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(ServeTestSupport.base(server) + "/v1")
                .apiKey(ServeTestSupport.KEY).modelName(ServeTestSupport.MODEL).temperature(0.8).seed(3)
                .maxCompletionTokens(16).timeout(Duration.ofSeconds(120)).maxRetries(0).build();
        assertEquals(want, chat.chat("Hello there"));

        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder()
                .baseUrl(ServeTestSupport.base(server) + "/v1").apiKey(ServeTestSupport.KEY)
                .modelName(ServeTestSupport.MODEL).temperature(0.8).seed(3).maxCompletionTokens(16)
                .timeout(Duration.ofSeconds(120)).build();
        StringBuilder parts = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat("Hello there", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                parts.append(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse response = done.get(120, TimeUnit.SECONDS);
        assertEquals(want, parts.toString());
        assertEquals(want, response.aiMessage().text());
        assertFalse(response.finishReason() == null);
        assertTrue(response.finishReason() == FinishReason.STOP || response.finishReason() == FinishReason.LENGTH);
        assertNull(response.aiMessage().toolExecutionRequests().isEmpty() ? null : "tool calls");
    }
}
