package org.driftml.kernels;

/**
 * The instruction set drift-native's own vectorised CPU loops run with (its vector_isa.h): the log-prob op's tile
 * passes and the RMSprop update, each built for AVX512, AVX2 and plain C++ (DEFAULT). The best the CPU has unless
 * {@link #use} picked another; every build computes the same values (the RMSprop update the same bits).
 */
public final class VectorIsa {
    private VectorIsa() {}

    /** AVX512, AVX2 or DEFAULT. */
    public static String current() {
        return DriftNative.vector_isa_name().getString();
    }

    /**
     * Runs the loops with the named build from now on (tests run every build one machine has).
     *
     * @return false, changing nothing, when the name is unknown or this CPU lacks the instructions
     */
    public static boolean use(String name) {
        return DriftNative.set_vector_isa(name);
    }
}
