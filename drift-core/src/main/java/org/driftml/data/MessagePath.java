package org.driftml.data;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import org.driftml.text.ChatMessage;

/**
 * A conversation's messages up to some length, as one key: how a stateless client's growing message list is joined
 * to the conversation it continues (its messages before the new user turn are an earlier request's messages and
 * reply), and how a log's branches are told apart (a regenerated reply starts a branch from the same prefix).
 */
public final class MessagePath {
    private MessagePath() {}

    /** Keys of every prefix: {@code keys[k]} is the key of the first {@code k} messages ({@code keys[0]}: none). */
    public static String[] prefixKeys(List<ChatMessage> messages) {
        String[] keys = new String[messages.size() + 1];
        MessageDigest digest = sha256();
        keys[0] = HexFormat.of().formatHex(clone(digest).digest());
        for (int k = 0; k < messages.size(); k++) {
            ChatMessage m = messages.get(k);
            // Lengths first: no two different message lists feed the digest the same bytes.
            byte[] role = m.role().getBytes(StandardCharsets.UTF_8), content = m.content().getBytes(
                    StandardCharsets.UTF_8);
            digest.update(lengthBytes(role.length));
            digest.update(role);
            digest.update(lengthBytes(content.length));
            digest.update(content);
            keys[k + 1] = HexFormat.of().formatHex(clone(digest).digest());
        }
        return keys;
    }

    /** The key of all of {@code messages}. */
    public static String key(List<ChatMessage> messages) {
        String[] keys = prefixKeys(messages);
        return keys[keys.length - 1];
    }

    private static byte[] lengthBytes(int n) {
        return new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n};
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static MessageDigest clone(MessageDigest d) {
        try {
            return (MessageDigest) d.clone();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException(e);
        }
    }
}
