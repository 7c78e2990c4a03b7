package org.driftml.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.text.ChatMessage;

/**
 * WildFeedback's preference records: {@code {"conversations": [{"from": "human"|"gpt", "value": ...}],
 * "chosen": {"from": "gpt", "value": ...}, "rejected": {...}}}. Records whose chosen equals their rejected carry
 * no preference; they are left out and counted.
 */
public final class WildFeedbackPreferences {
    public static final String IDENTICAL = "pairs with chosen equal to rejected";

    private WildFeedbackPreferences() {}

    public record Result(List<PreferencePair> pairs, ReadReport report) {}

    public static Result read(Path path, OnBadRecord policy) throws IOException {
        ReadReport report = new ReadReport();
        List<PreferencePair> out = new ArrayList<>();
        LogFiles.read(path, policy, report, r -> {
            report.record();
            try {
                PreferencePair p = parse(r);
                if (p == null) {
                    report.exclude(IDENTICAL);
                } else {
                    out.add(p);
                    report.kept(1);
                }
            } catch (BadRecordException e) {
                report.onBad(e, policy);
            }
        });
        return new Result(out, report);
    }

    static PreferencePair parse(LogRecord r) {
        JsonNode n = r.value();
        if (!n.isObject()) {
            throw r.bad(null, "expected an object with conversations, chosen, rejected");
        }
        List<ChatMessage> prompt = Messages.list(r, "conversations", n.get("conversations"));
        if (!prompt.get(prompt.size() - 1).role().equals("user")) {
            throw r.bad("conversations", "must end with a human turn (the request chosen and rejected answer)");
        }
        for (String f : new String[] {"chosen", "rejected"}) {
            if (!n.has(f)) {
                throw r.bad(f, "missing");
            }
        }
        String chosen = Messages.reply(r, "chosen", n.get("chosen"));
        String rejected = Messages.reply(r, "rejected", n.get("rejected"));
        if (chosen.equals(rejected)) {
            return null;
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("source", r.where());
        n.fieldNames().forEachRemaining(f -> {
            if (!f.equals("conversations") && !f.equals("chosen") && !f.equals("rejected")) {
                meta.put(f, LogFiles.JSON.convertValue(n.get(f), Object.class));
            }
        });
        return new PreferencePair(prompt, chosen, rejected, true, meta);
    }
}
