package org.driftml.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A request refused as OpenAI's API refuses it: an HTTP status and {@code {"error": {"message", "type", "param",
 * "code"}}}, the shape the official clients parse into their exceptions.
 */
public final class ApiError extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;

    ApiError(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: a malformed body or a bad field, named by {@code param}. */
    static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, null, message);
    }

    /** 400: the prompt and the reply it asks for do not fit the context. */
    static ApiError contextTooLong(String message) {
        return new ApiError(400, "invalid_request_error", "messages", "context_length_exceeded", message);
    }

    /** 401: no key, or the wrong one. */
    static ApiError unauthorized() {
        return new ApiError(401, "invalid_request_error", null, "invalid_api_key",
                "Incorrect or missing API key: send it as \"Authorization: Bearer KEY\"");
    }

    /** 404: a model this server does not serve. */
    static ApiError unknownModel(String asked, String served) {
        return new ApiError(404, "invalid_request_error", "model", "model_not_found",
                "The model `" + asked + "` does not exist; this server serves `" + served + "`");
    }

    /** 429: the queue is full. */
    static ApiError queueFull(String message) {
        return new ApiError(429, "rate_limit_error", null, "rate_limit_exceeded",
                message + "; retry after a moment");
    }

    /** 503: the model is still loading (or the server is stopping). */
    static ApiError unavailable(String message) {
        return new ApiError(503, "server_error", null, "model_not_ready", message);
    }

    /** 500: the model failed while answering. */
    static ApiError internal(String message) {
        return new ApiError(500, "server_error", null, null, message);
    }

    public int status() {
        return status;
    }

    /** The error body. */
    ObjectNode body(ObjectMapper json) {
        ObjectNode error = json.createObjectNode();
        error.put("message", getMessage());
        error.put("type", type);
        error.put("param", param);
        error.put("code", code);
        ObjectNode body = json.createObjectNode();
        body.set("error", error);
        return body;
    }
}
