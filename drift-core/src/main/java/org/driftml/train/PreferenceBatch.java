package org.driftml.train;

import java.util.List;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.model.internal.Tensorsj;

/**
 * B pairs as one forward of 2B rows: rows 0..B-1 are prompt + chosen, rows B..2B-1 prompt + rejected, right-padded to
 * the longest. {@code targets[r, t] = ids[r, t + 1]} and {@code completionMask[r, t]} marks positions whose next token
 * is a completion token, so the fused log-prob op reads the decoder's hidden states as they are (no shifted copy);
 * {@code scoredPositions} lists the flat positions r * T + t where it is set.
 */
record PreferenceBatch(Tensor inputIds, Tensor attentionMask, Tensor targets, Tensor completionMask,
        Tensor scoredPositions, int pairs, long realTokens, long paddedTokens) {

    /** The batch's tensors on {@code device}, copied there from host arrays (the mask's positions included). */
    public static PreferenceBatch of(List<PairTokenizer.TokenizedPair> pairs, long padId, Device device) {
        List<long[]> prompts = new java.util.ArrayList<>(), completions = new java.util.ArrayList<>();
        for (PairTokenizer.TokenizedPair p : pairs) {
            prompts.add(p.prompt());
            completions.add(p.chosen());
        }
        for (PairTokenizer.TokenizedPair p : pairs) {
            prompts.add(p.prompt());
            completions.add(p.rejected());
        }
        return rows(prompts, completions, padId, pairs.size(), device);
    }

    /**
     * Plain sequences, one row each (supervised fine-tuning): prompt + completion, only the completion scored.
     * {@code pairs} is 0.
     */
    public static PreferenceBatch sequences(List<long[]> prompts, List<long[]> completions, long padId,
            Device device) {
        return rows(prompts, completions, padId, 0, device);
    }

    private static PreferenceBatch rows(List<long[]> prompts, List<long[]> completions, long padId, int pairs,
            Device device) {
        int rows = prompts.size();
        int t = 0;
        for (int i = 0; i < rows; i++) {
            t = Math.max(t, prompts.get(i).length + completions.get(i).length);
        }
        long[] ids = new long[rows * t], mask = new long[rows * t], targets = new long[rows * t];
        long[] completion = new long[rows * t];
        long real = 0;
        for (int i = 0; i < rows; i++) {
            real += fill(i, prompts.get(i), completions.get(i), t, padId, ids, mask, targets, completion);
        }
        // The scored positions, listed here where they are known: found on a GPU, their count would have to come
        // back to the host before the log-prob op could size its work.
        long[] scored = java.util.stream.IntStream.range(0, completion.length).filter(i -> completion[i] != 0)
                .asLongStream().toArray();
        return new PreferenceBatch(tensor(ids, rows, t, device), tensor(mask, rows, t, device),
                tensor(targets, rows, t, device), tensor(completion, rows, t, device).to(ScalarType.Bool),
                Tensorsj.fromLongs(scored, device), pairs, real, (long) rows * t);
    }

    private static int fill(int row, long[] prompt, long[] completion, int t, long padId, long[] ids, long[] mask,
            long[] targets, long[] completionMask) {
        int length = prompt.length + completion.length;
        int base = row * t;
        for (int j = 0; j < t; j++) {
            long token = j < prompt.length ? prompt[j] : j < length ? completion[j - prompt.length] : padId;
            ids[base + j] = token;
            mask[base + j] = j < length ? 1 : 0;
        }
        for (int j = 0; j < t; j++) {
            boolean scored = j + 1 >= prompt.length && j + 1 < length;  // hidden[j] predicts ids[j + 1]
            targets[base + j] = j + 1 < t ? ids[base + j + 1] : padId;
            completionMask[base + j] = scored ? 1 : 0;
        }
        return length;
    }

    private static Tensor tensor(long[] values, long rows, long cols, Device device) {
        return Tensorsj.fromLongs(values, device).view(rows, cols);
    }
}
