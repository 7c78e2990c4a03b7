package org.driftml.serve;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.function.Supplier;
import org.driftml.model.ContinuousBatcher;

/**
 * What {@code GET /metrics} shows, in Prometheus' text format through Micrometer: requests by status, prompt and
 * generated tokens, queue depth, running sequences and batch occupancy, and histograms of time to first token,
 * inter-token latency and whole requests (buckets as vLLM's, from a millisecond to a minute and more).
 */
final class ServeMetrics {
    private static final Duration[] LATENCY = durations(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
            0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter promptTokens;
    private final Counter generatedTokens;
    private final Timer firstToken;
    private final Timer interToken;
    private final Timer whole;

    ServeMetrics(Supplier<ContinuousBatcher> batcher) {
        promptTokens = Counter.builder("drift.prompt.tokens").description("Prompt tokens prefilled")
                .register(registry);
        generatedTokens = Counter.builder("drift.generation.tokens").description("Tokens generated")
                .register(registry);
        firstToken = latency("drift.time.to.first.token", "From a request's arrival to its first token");
        interToken = latency("drift.inter.token.latency", "Between a reply's consecutive tokens");
        whole = latency("drift.request.duration", "From a request's arrival to its last token");
        Gauge.builder("drift.queue.depth", () -> value(batcher, b -> b.queued()))
                .description("Requests waiting for a slot").register(registry);
        Gauge.builder("drift.running.sequences", () -> value(batcher, b -> b.running()))
                .description("Sequences being decoded").register(registry);
        Gauge.builder("drift.batch.occupancy",
                        () -> value(batcher, b -> (double) b.running() / b.limits().maxBatch()))
                .description("Running sequences over the batch's slots (--max-batch)").register(registry);
    }

    private Timer latency(String name, String description) {
        return Timer.builder(name).description(description).serviceLevelObjectives(LATENCY)
                .publishPercentileHistogram(false).register(registry);
    }

    private static double value(Supplier<ContinuousBatcher> batcher, java.util.function.ToDoubleFunction<
            ContinuousBatcher> f) {
        ContinuousBatcher b = batcher.get();
        return b == null ? 0 : f.applyAsDouble(b);
    }

    void request(int status) {
        Counter.builder("drift.requests").description("Requests answered, by HTTP status")
                .tag("status", Integer.toString(status)).register(registry).increment();
    }

    void prompt(int tokens) {
        promptTokens.increment(tokens);
    }

    void token(long sinceLastNanos, boolean first) {
        generatedTokens.increment();
        (first ? firstToken : interToken).record(Duration.ofNanos(sinceLastNanos));
    }

    void finished(long nanos) {
        whole.record(Duration.ofNanos(nanos));
    }

    String scrape() {
        return registry.scrape();
    }

    private static Duration[] durations(double... seconds) {
        Duration[] out = new Duration[seconds.length];
        for (int i = 0; i < seconds.length; i++) {
            out[i] = Duration.ofNanos((long) (seconds[i] * 1e9));
        }
        return out;
    }
}
