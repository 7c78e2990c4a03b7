package org.driftml.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.driftml.data.PreferencePair;
import org.driftml.model.Policy;
import org.driftml.text.ChatMessage;
import org.driftml.text.ChatTemplate;
import org.driftml.text.Tokenizer;

/**
 * Turns preference pairs into token ids the way TRL's DPOTrainer does: the prompt rendered by the chat template with
 * the generation prompt; each completion is the assistant turn rendered after it, through its end token
 * ({@code <|im_end|>} for Qwen2: the newline the template writes after it belongs to no turn). The prompt's tokens must
 * be a prefix of prompt + completion (a template that re-renders earlier turns differently breaks DPO's premise that
 * both responses answer the same tokens), else the pair's index is named.
 *
 * <p>Truncation, two ways. By default as the TRL DRIFT's released code used: the prompt keeps its last {@code
 * maxPromptLength} tokens, then each completion is cut so prompt + completion fits {@code maxLength}. Or as TRL 1.13
 * does by default ({@link #keepStart}, its {@code truncation_mode="keep_start"}, which has no max_prompt_length):
 * each prompt + completion keeps its first {@code maxLength} tokens, and a pair whose prompt alone fills {@code
 * maxLength} is dropped, as TRL drops it. Pairs cut are counted, and pairs dropped.
 */
public final class PairTokenizer {
    /** A tokenised pair: shared prompt ids and the two completions' ids. */
    public record TokenizedPair(long[] prompt, long[] chosen, long[] rejected, boolean truncated) {}

    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final Set<Long> endIds;
    /** TRL's max_prompt_length: the prompt keeps its last this many tokens. */
    public static final org.driftml.settings.Setting<Integer> MAX_PROMPT_LENGTH = org.driftml.settings.Setting.whole(
            "max_prompt_length", "the prompt keeps its last this many tokens (TRL's max_prompt_length)", "tokens",
            ">= 1", v -> v >= 1, 1024, "release config: 1024");
    /** TRL's max_length: prompt and completion together. */
    public static final org.driftml.settings.Setting<Integer> MAX_LENGTH = org.driftml.settings.Setting.whole(
            "max_length", "prompt + completion, at most (TRL's max_length; more than max_prompt_length)", "tokens",
            ">= 2", v -> v >= 2, 2048, "release config: 2048");

    private final int maxPromptLength;  // 0: TRL 1.13's keep_start, no prompt limit
    private final int maxLength;
    private int truncated;
    private int dropped;

    /**
     * @param endIds token ids that end an assistant turn (eos, {@code <|im_end|>}); the completion stops after the first
     * @param maxPromptLength TRL's max_prompt_length (DRIFT: 1024)
     * @param maxLength       TRL's max_length, prompt + completion (DRIFT: 2048)
     */
    public PairTokenizer(Tokenizer tokenizer, ChatTemplate template, Set<Long> endIds, int maxPromptLength,
            int maxLength) {
        if (maxPromptLength < 1 || maxLength <= maxPromptLength) {
            throw new IllegalArgumentException("need 0 < maxPromptLength < maxLength, got " + maxPromptLength + " and "
                    + maxLength);
        }
        this.tokenizer = tokenizer;
        this.template = template;
        this.endIds = Set.copyOf(endIds);
        this.maxPromptLength = maxPromptLength;
        this.maxLength = maxLength;
    }

    private PairTokenizer(Tokenizer tokenizer, ChatTemplate template, Set<Long> endIds, int maxLength) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("need maxLength >= 2, got " + maxLength);
        }
        this.tokenizer = tokenizer;
        this.template = template;
        this.endIds = Set.copyOf(endIds);
        this.maxPromptLength = 0;
        this.maxLength = maxLength;
    }

    /**
     * Truncation as TRL 1.13 does by default ({@code truncation_mode="keep_start"}): each prompt + completion keeps
     * its first {@code maxLength} tokens, and a pair whose prompt alone has {@code maxLength} tokens or more is
     * dropped (counted in {@link #droppedCount()}).
     */
    public static PairTokenizer keepStart(Tokenizer tokenizer, ChatTemplate template, Set<Long> endIds,
            int maxLength) {
        return new PairTokenizer(tokenizer, template, endIds, maxLength);
    }

    /** A tokenizer for pairs meant for {@code policy}: its tokenizer, chat template and end-of-turn ids. */
    public static PairTokenizer of(Policy policy, int maxPromptLength, int maxLength) {
        return new PairTokenizer(policy.tokenizer(), policy.template(), policy.endIds(), maxPromptLength, maxLength);
    }

    /** The pairs' ids, in order, without the pairs truncation dropped (only {@link #keepStart} drops any). */
    public List<TokenizedPair> tokenize(List<PreferencePair> pairs) {
        List<TokenizedPair> out = new ArrayList<>();
        for (int i = 0; i < pairs.size(); i++) {
            TokenizedPair t = tokenize(pairs.get(i), i);
            if (t != null) {
                out.add(t);
            }
        }
        return out;
    }

    /** Pairs so far dropped because their prompt alone filled maxLength ({@link #keepStart} only; TRL's rule). */
    public int droppedCount() {
        return dropped;
    }

    /** Pairs so far that had to be truncated (TRL reports these too). */
    public int truncatedCount() {
        return truncated;
    }

    TokenizedPair tokenize(PreferencePair p, int index) {
        long[] prompt;
        long[] chosen;
        long[] rejected;
        if (p.conversational()) {
            prompt = tokenizer.encode(template.render(p.prompt(), true));
            chosen = completion(p, p.chosen(), prompt, index, "chosen");
            rejected = completion(p, p.rejected(), prompt, index, "rejected");
        } else {
            prompt = tokenizer.encode(p.promptText());
            chosen = tokenizer.encode(p.chosen());
            rejected = tokenizer.encode(p.rejected());
        }
        return truncate(prompt, chosen, rejected);
    }

    /** The pair's ids cut to fit (null when dropped), counting what was cut or dropped. */
    TokenizedPair truncate(long[] prompt, long[] chosen, long[] rejected) {
        boolean cut = false;
        if (maxPromptLength == 0 && prompt.length >= maxLength) {
            dropped++;  // TRL 1.13 drops it: keep_start would leave no completion token to learn from
            return null;
        }
        if (maxPromptLength > 0 && prompt.length > maxPromptLength) {
            prompt = Arrays.copyOfRange(prompt, prompt.length - maxPromptLength, prompt.length);
            cut = true;
        }
        int room = maxLength - prompt.length;
        if (chosen.length > room || rejected.length > room) {
            chosen = Arrays.copyOf(chosen, Math.min(chosen.length, room));
            rejected = Arrays.copyOf(rejected, Math.min(rejected.length, room));
            cut = true;
        }
        if (cut) {
            truncated++;
        }
        return new TokenizedPair(prompt, chosen, rejected, cut);
    }

    private long[] completion(PreferencePair p, String response, long[] prompt, int index, String which) {
        List<ChatMessage> full = new ArrayList<>(p.prompt());
        full.add(ChatMessage.assistant(response));
        long[] all = tokenizer.encode(template.render(full, false));
        if (all.length < prompt.length || !Arrays.equals(Arrays.copyOf(all, prompt.length), prompt)) {
            throw new IllegalArgumentException("pair " + index + ": the prompt's tokens are not a prefix of prompt + "
                    + which + " (the chat template renders the prompt differently once an answer follows)");
        }
        int end = prompt.length;
        while (end < all.length && !endIds.contains(all[end])) {
            end++;
        }
        if (end == all.length) {
            throw new IllegalArgumentException("pair " + index + ": the " + which
                    + " turn has no end token (expected one of " + endIds + ")");
        }
        return Arrays.copyOfRange(all, prompt.length, end + 1);
    }
}
