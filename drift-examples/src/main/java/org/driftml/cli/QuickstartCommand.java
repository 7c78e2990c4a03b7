package org.driftml.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code drift quickstart}: the simulated deployment, DRIFT vs SPIN vs IterDPO, on a CPU, no downloads. */
@Command(name = "quickstart", mixinStandardHelpOptions = true,
        description = {"See DRIFT work in minutes on a CPU with nothing to download. A small Qwen2 with its own",
                "tokenizer learns a word task (\"give me a word that starts with b and has 4 letters\") from",
                "imperfect demonstrations, is deployed to simulated users who say what is wrong when a reply misses",
                "(\"That does not end with e.\"), and its logs (WildFeedback format) are mined and used to train",
                "DRIFT, SPIN and IterDPO from the same warm start, over several seeds. Every stage is scored by an",
                "exact gold reward on held-out tasks. Results: OUTPUT/results.md, results.json, gold-reward.png,",
                "and a model folder per stage. Rerunning on the same --output resumes."})
public final class QuickstartCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--output", defaultValue = "quickstart-out", paramLabel = "DIR",
            description = "Where everything goes (default: ${DEFAULT-VALUE})")
    Path output;

    @Option(names = "--size", defaultValue = "default", paramLabel = "default|small",
            description = "default: the README's run; small: fewer demonstrations and logs, one seed (about 1.5 minutes)")
    String size;

    @Option(names = "--seeds", paramLabel = "N", description = "Training seeds (default: 3, small: 1)")
    Integer seeds;

    @Option(names = "--iterations", paramLabel = "K", description = "Iterations per method (default: 2)")
    Integer iterations;

    @Option(names = "--conversations", paramLabel = "N", description = "Simulated conversations in the logs")
    Integer conversations;

    @Option(names = "--world-seed", paramLabel = "S", description = "Seeds the tasks, users and starting model (default: 0)")
    Long worldSeed;

    @Option(names = "--served", description = {"Deploy through drift serve: the base policy behind OpenAI's chat API "
            + "with a conversation log,", "the simulated users talking to it over HTTP and rating some replies, and "
            + "the log mined as drift mine --logs mines it"})
    boolean served;

    @Option(names = "--config", paramLabel = "FILE", description = "JSON or YAML settings (keys: these option names)")
    Path configFile;

    @Override
    public Integer call() throws Exception {
        var err = spec.commandLine().getErr();
        try {
            if (configFile != null) {
                ConfigFile.apply(spec, configFile);
            }
        } catch (CommandLine.ParameterException e) {
            err.println("drift quickstart: " + e.getMessage());
            err.flush();
            return 2;
        }
        org.driftml.quickstart.QuickstartRun.Options o = new org.driftml.quickstart.QuickstartRun.Options(size, seeds,
                iterations, conversations, worldSeed, served);
        try {
            String table = org.driftml.quickstart.QuickstartRun.run(o, output, System.err);
            var out = spec.commandLine().getOut();
            out.println(table);
            out.printf("results: %s (results.md, results.json, gold-reward.png; a model folder per stage under "
                    + "seed-N/)%n", output.toAbsolutePath());
            out.flush();
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("drift quickstart: " + e.getMessage());
            err.flush();
            return 2;
        }
    }
}
