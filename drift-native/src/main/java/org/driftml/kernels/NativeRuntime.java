package org.driftml.kernels;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

/**
 * Loads LibTorch and drift-native once per process, with defaults measured on a 2-core CPU.
 *
 * <p>Why each default (all measured with the bytedeco LibTorch 2.13 CPU build, whose GEMMs run on OpenBLAS's own
 * thread pool while elementwise ops run on libgomp's):
 * <ul>
 *   <li>{@code OMP_WAIT_POLICY=PASSIVE}: after each parallel region libgomp's workers spin, competing for the cores
 *       with OpenBLAS's workers. A toy 8-layer MLP step went from 132 ms to 5.5 ms (d=64) and from 352 ms to 79 ms
 *       (d=512). Setting OpenBLAS or OpenMP to one thread instead also stops the fight, but halves large GEMMs.</li>
 *   <li>{@code GOMP_SPINCOUNT=8000}: with PASSIVE alone a worker sleeps the moment a region ends, and bf16 work
 *       (oneDNN's GEMMs run on libgomp's threads, not OpenBLAS's) pays a wake-up at each of its hundreds of small
 *       regions per step. A short spin first: the bf16 DPO step of benchmarks/dpo-vs-trl.sh 1.09 -> 0.90 s, 0.5B
 *       sampling at batch 8 38.0 -> 42.9 tokens/s. It costs the fp32 step 0-8% (interleaved medians 2.58 -> 2.63 s,
 *       and 3.74 -> 4.02 s in a noisier period), where OpenBLAS's threads want the cores back; set
 *       GOMP_SPINCOUNT=0 for fp32-only work.</li>
 *   <li>{@code THP_MEM_ALLOC_ENABLE=1}: c10 aligns large CPU allocations to 2 MiB so the kernel backs them with huge
 *       pages; a 33M-parameter fp32 DPO step went from 2.8 s to 1.07 s, and TRL's own step halved.</li>
 *   <li>JavaCPP's messages go to SLF4J (logger {@code org.bytedeco.javacpp.Loader}) instead of stderr. The one seen at
 *       every start, "Versions of org.bytedeco:javacpp:1.5.14 and org.bytedeco:openblas:0.3.31-1.5.13 do not match",
 *       is expected: openblas 0.3.34-1.5.14, which the pytorch pom names, is not published, so 1.5.13 is pinned.</li>
 *   <li>{@code org.bytedeco.javacpp.maxPhysicalBytes=0} (no limit): JavaCPP otherwise refuses any allocation once the
 *       process's resident memory passes 4x the Java heap (-Xmx512m: 2 GB) and throws OutOfMemoryError. Model
 *       weights, optimiser state and activations live outside the heap by design and are freed by scopes, so that
 *       check only breaks real runs: DPO on a 89M-parameter Qwen2 with vocab 151,936 died at 2,054 MB.</li>
 * </ul>
 * Each is applied only when the user has not set it: an explicit environment variable or system property wins.
 */
public final class NativeRuntime {
    private static final Map<String, String> ENV_DEFAULTS = new LinkedHashMap<>();

    static {
        ENV_DEFAULTS.put("OMP_WAIT_POLICY", "PASSIVE");
        ENV_DEFAULTS.put("GOMP_SPINCOUNT", "8000");
        ENV_DEFAULTS.put("THP_MEM_ALLOC_ENABLE", "1");
    }

    private static final Map<String, String> EFFECTIVE_ENV = new LinkedHashMap<>();
    private static volatile boolean loaded;
    private static boolean reducedGemm;

    private NativeRuntime() {}

    /** Idempotent and thread-safe; every class that touches native code calls it first. */
    public static void load() {
        if (loaded) {
            return;
        }
        synchronized (NativeRuntime.class) {
            if (loaded) {
                return;
            }
            if (System.getProperty("org.bytedeco.javacpp.logger") == null) {
                System.setProperty("org.bytedeco.javacpp.logger", "slf4j");
            }
            // Read once, when JavaCPP's Pointer class initialises: set it before any native call below.
            if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null
                    && System.getProperty("org.bytedeco.javacpp.maxphysicalbytes") == null) {
                System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
            }
            for (Map.Entry<String, String> e : ENV_DEFAULTS.entrySet()) {
                String mine = System.getenv(e.getKey());  // the environment the JVM started with
                if (mine == null) {
                    ProcessEnv.setenv(e.getKey(), e.getValue(), 0);
                    EFFECTIVE_ENV.put(e.getKey(), e.getValue() + " (drift default)");
                } else {
                    EFFECTIVE_ENV.put(e.getKey(), mine + " (from the environment)");
                }
            }
            Loader.load(torch.class);
            // Set before drift-native loads: its class initialiser calls load() again on this thread.
            loaded = true;
            reducedGemm = DriftNative.install_reduced_gemm();
            // The test device must exist before the first backward: the autograd engine sizes its per-device
            // threads once, then (measured) fails an internal assert on a device it did not count.
            if (Boolean.getBoolean(TestDevice.PROPERTY)) {
                DriftNative.install_test_device();
            }
        }
    }

    /**
     * Whether ATen's bf16/fp16 GEMMs with fp32 output (the flash-attention backward's) run on OpenBLAS's sgemm
     * through drift-native instead of ATen's scalar loop (drift-native/src/main/cpp/drift/reduced_gemm.h): the bytedeco
     * LibTorch has no MKL, so without it bf16 attention's backward is about 7x slower than pip's torch.
     */
    public static boolean reducedGemmInstalled() {
        load();
        return reducedGemm;
    }

    /** Each variable this class manages, with its value and whether drift or the user set it. */
    public static Map<String, String> effectiveEnvironment() {
        load();
        return java.util.Collections.unmodifiableMap(EFFECTIVE_ENV);
    }

    /** The LibTorch version this process runs, as its build reports it (e.g. 2.13.0). */
    public static String libtorchVersion() {
        load();
        String config = torch.show_config().getString();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("TORCH_VERSION=([0-9.]+)").matcher(config);
        return m.find() ? m.group(1) : "unknown";
    }

    /**
     * Quiets LibTorch's own logging below FATAL, or restores c10's default (WARNING). Distributed setup logs each failed
     * connection try with a native stack trace (29 lines before drift's message when rank 0 was not there); drift
     * reports every such failure itself in one line, so its commands keep the native log for {@code --verbose}.
     */
    public static void quietNativeLog(boolean quiet) {
        load();
        DriftNative.set_c10_log_level(quiet ? C10_FATAL : C10_WARNING);
    }

    private static final int C10_WARNING = 1, C10_FATAL = 3;

    /** Intra-op threads LibTorch uses (defaults to the number of cores). */
    public static int threads() {
        load();
        return torch.get_num_threads();
    }

    /** Sets LibTorch's intra-op threads; OpenBLAS keeps its own pool sized to the cores. */
    public static void setThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        load();
        torch.set_num_threads(threads);
    }
}
