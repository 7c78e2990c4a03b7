package org.driftml.serve;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** The response bodies of one completion: {@code chat.completion} or its {@code chat.completion.chunk}s. */
record Completion(String id, long created, String model, int promptTokens) {
    ObjectNode whole(String text, String finishReason, int completionTokens) {
        ObjectNode body = head("chat.completion");
        ObjectNode choice = body.putArray("choices").addObject();
        choice.put("index", 0);
        choice.putObject("message").put("role", "assistant").put("content", text).putNull("refusal");
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason);
        body.set("usage", usage(completionTokens));
        return body;
    }

    ObjectNode chunk(ObjectNode delta, String finishReason, boolean withUsage) {
        ObjectNode body = head("chat.completion.chunk");
        ObjectNode choice = body.putArray("choices").addObject();
        choice.put("index", 0);
        choice.set("delta", delta);
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason);
        if (withUsage) {
            body.putNull("usage");
        }
        return body;
    }

    /** stream_options.include_usage: a last chunk with no choices and the usage. */
    ObjectNode usageChunk(int completionTokens) {
        ObjectNode body = head("chat.completion.chunk");
        body.putArray("choices");
        body.set("usage", usage(completionTokens));
        return body;
    }

    private ObjectNode head(String object) {
        ObjectNode body = ChatServer.JSON.createObjectNode();
        body.put("id", id);
        body.put("object", object);
        body.put("created", created);
        body.put("model", model);
        body.putNull("system_fingerprint");
        return body;
    }

    private ObjectNode usage(int completionTokens) {
        ObjectNode u = ChatServer.JSON.createObjectNode();
        u.put("prompt_tokens", promptTokens);
        u.put("completion_tokens", completionTokens);
        u.put("total_tokens", promptTokens + completionTokens);
        return u;
    }
}
