package org.driftml.drift;

import java.util.List;
import org.driftml.data.PreferencePair;
import org.driftml.model.Policy;

/**
 * How one iteration turns its items into preference pairs with samples from the current policy. DRIFT, SPIN and
 * IterDPO differ only here: which prompts they sample and how samples and logged replies become (x, y+, y-).
 * Items keep a fixed order and stable ids, so an interrupted iteration resumes where it stopped.
 */
public interface PairMethod {
    /** "drift", "spin", "iterdpo", ... (written into each pair's metadata). */
    String name();

    /** The number of items this iteration builds pairs for. */
    int size();

    /** A stable id for item {@code i}. */
    String id(int i);

    /** The prompts to sample for item {@code i}, one continuation each. */
    List<long[]> samplingPrompts(Policy policy, int i);

    /**
     * The pair for item {@code i} from its samples (in the order of its prompts, as decoded: not yet stripped), or
     * null to drop it.
     */
    PreferencePair pair(int i, List<String> samples);
}
