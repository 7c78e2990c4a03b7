package org.driftml.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.driftml.text.ChatMessage;

/**
 * Replies users were satisfied with (SPIN's positives): the release's {@code sat_data.jsonl}, and the
 * {@code satisfying.jsonl} of a mined folder. The release stores its file with Git LFS, so its fields are not
 * documented; drift accepts the shapes TRL reads for one reply to a prompt:
 * <ul>
 *   <li>{@code {"prompt": [messages], "chosen": [assistant message] | text}} (a preference record without its
 *       rejected reply; what {@code drift mine} writes);</li>
 *   <li>{@code {"prompt": [messages] | text, "completion": [assistant message] | text}} (TRL's prompt-completion);</li>
 *   <li>{@code {"messages": [..., assistant message]}} (TRL's conversational language modelling): the last message is
 *       the reply, the ones before it the prompt.</li>
 * </ul>
 * An {@code id} names the reply (else its position); the prompt must end with a user message.
 */
public final class SatRecords {
    private SatRecords() {}

    public record Result(List<SatReply> replies, ReadReport report) {}

    public static Result read(Path path, OnBadRecord policy) throws IOException {
        ReadReport report = new ReadReport();
        return new Result(LogFiles.parseEach(path, policy, report, SatRecords::parse), report);
    }

    static SatReply parse(LogRecord r, int index) {
        JsonNode n = r.value();
        if (!n.isObject()) {
            throw r.bad(null, "expected an object with prompt and chosen (or completion), or messages");
        }
        List<ChatMessage> prompt;
        String reply;
        if (n.has("messages") && !n.has("prompt")) {
            List<ChatMessage> all = Messages.list(r, "messages", n.get("messages"));
            ChatMessage last = all.get(all.size() - 1);
            if (all.size() < 2 || !last.role().equals("assistant")) {
                throw r.bad("messages", "must end with the assistant's reply after a user message");
            }
            prompt = all.subList(0, all.size() - 1);
            reply = last.content();
        } else {
            JsonNode p = n.get("prompt");
            prompt = p != null && p.isTextual() ? List.of(ChatMessage.user(p.asText())) : Messages.list(r, "prompt", p);
            String field = n.has("chosen") ? "chosen" : "completion";
            if (!n.has(field)) {
                throw r.bad("chosen", "missing (expected \"chosen\" or \"completion\": the satisfying reply)");
            }
            reply = Messages.reply(r, field, n.get(field));
        }
        if (!prompt.get(prompt.size() - 1).role().equals("user")) {
            throw r.bad(n.has("prompt") ? "prompt" : "messages", "the reply must answer a user message");
        }
        String id = n.hasNonNull("id") ? n.get("id").asText() : "sat-" + (index + 1);
        return new SatReply(id, List.copyOf(prompt), reply, n.hasNonNull("source") ? n.get("source").asText()
                : r.where());
    }
}
