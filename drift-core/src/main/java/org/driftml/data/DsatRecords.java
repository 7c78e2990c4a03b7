package org.driftml.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.driftml.text.ChatMessage;

/**
 * DRIFT's released DSAT records: {@code {"prompt": [messages], "rejected": [assistant message],
 * "user_preference": {"content": feedback}}}, one DSAT item each. An {@code id} field, when present, names the
 * item; otherwise the record's position does.
 */
public final class DsatRecords {
    private DsatRecords() {}

    public record Result(List<DsatItem> items, ReadReport report) {}

    public static Result read(Path path, OnBadRecord policy) throws IOException {
        ReadReport report = new ReadReport();
        return new Result(LogFiles.parseEach(path, policy, report, DsatRecords::parse), report);
    }

    static DsatItem parse(LogRecord r, int index) {
        JsonNode n = r.value();
        if (!n.isObject()) {
            throw r.bad(null, "expected an object with prompt, rejected, user_preference");
        }
        List<ChatMessage> prompt = Messages.list(r, "prompt", n.get("prompt"));
        if (!prompt.get(prompt.size() - 1).role().equals("user")) {
            throw r.bad("prompt", "must end with a user message (the request the rejected reply answers)");
        }
        String rejected = Messages.reply(r, "rejected", n.get("rejected"));
        if (!n.has("user_preference")) {
            throw r.bad("user_preference", "missing");
        }
        String feedback = Messages.text(r, "user_preference", n.get("user_preference"));
        String id = n.hasNonNull("id") ? n.get("id").asText() : "dsat-" + (index + 1);
        return new DsatItem(id, prompt, rejected, feedback, n.hasNonNull("source") ? n.get("source").asText() : r.where());
    }
}
