package org.driftml.model;

import java.util.ArrayList;
import java.util.List;

/**
 * One prompt's generation as a {@link ContinuousBatcher} driven on the caller's thread produces it: the tokens and
 * log-probs as they come, then the end, after which it joins {@code ended} for the caller to hand on.
 */
final class CollectedGeneration implements ContinuousBatcher.Listener {
    final int index;
    private final List<CollectedGeneration> ended;
    private final List<Long> tokens = new ArrayList<>();
    private final List<Float> logprobs = new ArrayList<>();
    private boolean stopped;
    RuntimeException error;

    CollectedGeneration(int index, List<CollectedGeneration> ended) {
        this.index = index;
        this.ended = ended;
    }

    @Override
    public boolean token(long id, float logprob) {
        tokens.add(id);
        logprobs.add(logprob);
        return true;
    }

    @Override
    public void end(ContinuousBatcher.Finish finish, RuntimeException e) {
        stopped = finish == ContinuousBatcher.Finish.STOP;
        error = e != null ? e
                : finish == ContinuousBatcher.Finish.FAILED ? new IllegalStateException("generation failed") : null;
        ended.add(this);
    }

    Sampler.Generation generation() {
        long[] t = tokens.stream().mapToLong(Long::longValue).toArray();
        float[] l = new float[t.length];
        for (int j = 0; j < l.length; j++) {
            l[j] = logprobs.get(j);
        }
        return new Sampler.Generation(t, l, stopped);
    }
}
