package org.driftml.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code drift} command line: one entry point, one subcommand per stage of DRIFT. */
@Command(name = "drift", mixinStandardHelpOptions = true, version = "drift 0.1.0-SNAPSHOT",
        description = "Post-train a language model on the dissatisfaction its users expressed (DRIFT).",
        subcommands = {EnvCommand.class, TokenizeCommand.class, LogprobsCommand.class, GenerateCommand.class,
                DpoCommand.class, MineCommand.class, WarmstartCommand.class, TrainCommand.class,
                ExploreCommand.class, EvalCommand.class, ServeCommand.class, QuickstartCommand.class})
public final class Drift implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "On a failure, print the Java stack trace too; with several processes, LibTorch's own log")
    boolean verbose;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /**
     * The command line with every subcommand; help is laid out 120 columns wide so descriptions keep their lines. An
     * exception a command lets through becomes one line and an exit code ({@link Failures}).
     */
    public static CommandLine commandLine() {
        return new CommandLine(new Drift()).setUsageHelpWidth(120).setExecutionExceptionHandler(new Failures());
    }

    public static void main(String[] args) {
        Launcher.watchLauncher(args.length > 0 ? args[0] : "");  // a worker of --nproc-per-node stops with its launcher
        System.exit(commandLine().execute(args));
    }
}
