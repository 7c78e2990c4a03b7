package org.driftml.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;

/**
 * What the user sees when a command fails with an exception no command caught: one line naming the command and what
 * went wrong, and the README's exit code: 2 for bad input (an invalid value, a missing or unreadable file, malformed
 * JSON), 1 for a failure at run time. The stack trace only with {@code --verbose}. Before, 145 of 524 bad inputs
 * ended in a raw Java stack trace with exit 1.
 */
final class Failures implements CommandLine.IExecutionExceptionHandler {
    static final int BAD_INPUT = 2;
    static final int RUN_TIME = 1;

    @Override
    public int handleExecutionException(Exception e, CommandLine commandLine, CommandLine.ParseResult parsed) {
        PrintWriter err = commandLine.getErr();
        if (verbose(parsed)) {
            e.printStackTrace(err);
        }
        err.println(commandLine.getCommandSpec().qualifiedName() + ": " + message(e));  // "drift eval compare"
        err.flush();
        return exitCode(e);
    }

    /** The README's exit code for an exception a command let through. */
    static int exitCode(Throwable e) {
        Throwable c = unwrap(e);
        if (c instanceof IllegalArgumentException || c instanceof NoSuchFileException
                || c instanceof AccessDeniedException || c instanceof CharacterCodingException
                || c instanceof java.io.FileNotFoundException  // a missing input opened as a File names its path
                || c instanceof java.nio.file.FileAlreadyExistsException
                || c instanceof java.nio.file.NotDirectoryException
                || c instanceof org.driftml.model.spec.MalformedCheckpointException
                || c instanceof com.fasterxml.jackson.core.JsonProcessingException) {
            return BAD_INPUT;
        }
        return RUN_TIME;
    }

    /** One line a user can act on: the exception's own message, with what kind of failure when that is not said. */
    static String message(Throwable e) {
        Throwable c = unwrap(e);
        String m = c.getMessage();
        if (c instanceof NoSuchFileException f) {
            return f.getReason() != null ? f.getFile() + ": " + f.getReason() : "no such file or folder: " + f.getFile();
        }
        if (c instanceof java.nio.file.FileAlreadyExistsException f) {  // a folder was to be made where a file is
            return f.getFile() + " already exists and is not a folder";
        }
        if (c instanceof java.nio.file.NotDirectoryException f) {
            return f.getFile() + " is not a folder";
        }
        if (c instanceof AccessDeniedException f) {
            return "permission denied: " + f.getFile();
        }
        if (c instanceof FileSystemException f && f.getReason() != null) {
            return f.getFile() + ": " + f.getReason();
        }
        if (c instanceof CharacterCodingException) {
            return "input is not valid UTF-8 (" + c.getClass().getSimpleName() + ")";
        }
        if (c instanceof OutOfMemoryError) {
            return "out of memory (" + (m == null ? "Java heap" : m) + "): the input or settings need more memory "
                    + "than this machine has";
        }
        if (m == null || m.isBlank()) {
            return c.getClass().getSimpleName() + " (run with --verbose for the stack trace)";
        }
        return m.lines().findFirst().orElse(m);
    }

    private static Throwable unwrap(Throwable e) {
        Throwable c = e;
        while ((c instanceof UncheckedIOException || c instanceof CommandLine.ExecutionException
                || (c instanceof RuntimeException && c.getClass() == RuntimeException.class && c.getCause() != null))
                && c.getCause() != null) {
            c = c.getCause();
        }
        return c;
    }

    /** Whether {@code --verbose} was given anywhere on the command line of the command {@code spec} runs. */
    static boolean verbose(CommandLine.Model.CommandSpec spec) {
        return verbose(spec.root().commandLine().getParseResult());
    }

    private static boolean verbose(CommandLine.ParseResult parsed) {
        for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return false;
    }
}
