package org.driftml.quickstart;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.driftml.data.Satisfaction;

/**
 * The simulated deployment through drift serve's HTTP API instead of in process: each simulated user holds a
 * conversation as a stateless OpenAI client does (the whole message list every time), says what is wrong when a
 * reply misses a constraint, thanks it when it does not, and sometimes rates replies with explicit feedback
 * ({@code POST /v1/feedback}): a thumbs-down with their complaint as the comment, a thumbs-up, or, for a user who
 * leaves without a word, a bare thumbs-down. The server's log then holds what {@code drift mine --logs} reads.
 */
public final class ServedDeployment {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(30)).build();

    /** What the users did: conversations, requests, their complaints and thanks, explicit ratings posted. */
    public record Counts(int conversations, int requests, int complaints, int thanks, int thumbsDown, int thumbsUp) {}

    private final String base;
    private final String model;
    private final int maxNewTokens;
    private final double feedbackRate;

    /**
     * @param base         the server, {@code http://host:port}
     * @param feedbackRate the chance a user also rates a reply they reacted to (and a silent one thumbs-down)
     */
    public ServedDeployment(String base, String model, int maxNewTokens, double feedbackRate) {
        this.base = base;
        this.model = model;
        this.maxNewTokens = maxNewTokens;
        this.feedbackRate = feedbackRate;
    }

    /**
     * Runs {@code conversations} conversations, {@code users} at a time (the server batches them); conversation c's
     * task, reactions and ratings are drawn from its own generator, so the same seed holds the same conversations
     * whatever the order they interleave in.
     */
    public Counts run(int conversations, int users, long seed) throws IOException, InterruptedException {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(users);
        List<java.util.concurrent.Future<int[]>> each = new java.util.ArrayList<>();
        for (int c = 0; c < conversations; c++) {
            int k = c;
            each.add(pool.submit(() -> converse(k, seed)));
        }
        pool.shutdown();
        int[] total = new int[5];
        try {
            for (var f : each) {
                int[] n = f.get();
                for (int i = 0; i < total.length; i++) {
                    total[i] += n[i];
                }
            }
        } catch (java.util.concurrent.ExecutionException e) {
            pool.shutdownNow();
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
        return new Counts(conversations, total[0], total[1], total[2], total[3], total[4]);
    }

    /** One conversation; returns its requests, complaints, thanks, thumbs down and up. */
    private int[] converse(int c, long seed) throws IOException, InterruptedException {
        Random r = new Random(seed * 1_000_003L + c);
        SimulatedUser user = new SimulatedUser(r);
        int requests = 0, complaints = 0, thanks = 0, down = 0, up = 0;
        WordTask task = WordTask.sample(r);
        ArrayNode messages = JSON.createArrayNode();
        messages.addObject().put("role", "user").put("content", task.prompt());
        // The first reply, then one revision after a complaint, as Deployment does; the user's last reaction is sent
        // too (its reply unread), so the log holds the turn that judges the revision.
        for (int round = 0; round <= Deployment.MAX_REVISIONS; round++) {
            JsonNode reply = chat(messages, seed * 100_003 + c * 31L + round);
            requests++;
            String text = reply.at("/choices/0/message/content").asText();
            String id = reply.get("id").asText();
            messages.addObject().put("role", "assistant").put("content", text);
            SimulatedUser.Reaction reaction = user.react(task, text);
            boolean rates = r.nextDouble() < feedbackRate;
            if (reaction == null) {
                if (rates) {  // left without a word, but clicked thumbs-down
                    feedback(id, "down", null);
                    down++;
                }
                break;
            }
            complaints += reaction.label() == Satisfaction.DSAT ? 1 : 0;
            thanks += reaction.label() == Satisfaction.SAT ? 1 : 0;
            if (rates) {
                boolean dissatisfied = reaction.label() == Satisfaction.DSAT;
                feedback(id, dissatisfied ? "down" : "up", dissatisfied ? reaction.text() : null);
                down += dissatisfied ? 1 : 0;
                up += dissatisfied ? 0 : 1;
            }
            messages.addObject().put("role", "user").put("content", reaction.text());
            if (reaction.label() != Satisfaction.DSAT || round == Deployment.MAX_REVISIONS) {
                chat(messages, seed * 100_003 + c * 31L + round + 7);
                requests++;
                break;
            }
        }
        return new int[] {requests, complaints, thanks, down, up};
    }

    private JsonNode chat(ArrayNode messages, long seed) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode().put("model", model).put("temperature", Deployment.TEMPERATURE)
                .put("max_tokens", maxNewTokens).put("seed", seed);
        body.set("messages", messages);
        return post("/v1/chat/completions", body);
    }

    private void feedback(String responseId, String rating, String comment) throws IOException,
            InterruptedException {
        ObjectNode body = JSON.createObjectNode().put("response_id", responseId).put("rating", rating);
        if (comment != null) {
            body.put("comment", comment);
        }
        post("/v1/feedback", body);
    }

    private JsonNode post(String path, ObjectNode body) throws IOException, InterruptedException {
        HttpResponse<String> res = HTTP.send(HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                HttpResponse.BodyHandlers.ofString());
        if (res.statusCode() != 200) {
            throw new IOException(path + " answered " + res.statusCode() + ": " + res.body());
        }
        return JSON.readTree(res.body());
    }
}
