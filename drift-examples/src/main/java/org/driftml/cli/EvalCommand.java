package org.driftml.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code drift eval}: benchmark-ready outputs of a model, and a judged win rate of one model against another. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Evaluate trained models as the paper does:",
                "  generate  a model's replies to a prompt set, as AlpacaEval's model_outputs.json and WildBench's",
                "            result file, for those benchmarks' own judges",
                "  compare   a local win rate of model A's outputs against model B's by a reward model, with a",
                "            bootstrap confidence interval and the share of ties"},
        subcommands = {EvalGenerateCommand.class, EvalCompareCommand.class})
final class EvalCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
