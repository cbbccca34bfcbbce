package org.iommufd4j.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import org.iommufd4j.kernel.LibC;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Every failure a user can cause ends in one line that names the object, the errno by name and what
 * to do, and in the documented exit status: 2 for a usage error, 1 for a failure of the command,
 * and for {@code exec} (whose status is otherwise the program's) 125, as {@code env} and {@code
 * timeout} do. Only a bug of iommufd4j itself prints a stack trace.
 */
final class CliErrors {
  static final int USAGE = 2;
  static final int FAILED = 1;
  static final int EXEC_FAILED = 125;

  private CliErrors() {}

  /** A failure the user can fix: printed as one line after the command's name. */
  static final class UserError extends RuntimeException {
    private final int exitCode;

    UserError(String message, int exitCode) {
      super(message, null, false, false);
      this.exitCode = exitCode;
    }

    int exitCode() {
      return exitCode;
    }
  }

  /** The status a failure of {@code cmd} itself ends with. */
  static int failureStatus(CommandLine cmd) {
    return "exec".equals(cmd.getCommandName()) ? EXEC_FAILED : FAILED;
  }

  /** {@code "ENOENT (No such file or directory)"} for a file-system exception. */
  static String errno(IOException e) {
    int errno =
        switch (e) {
          case NoSuchFileException x when x.getReason() == null -> 2;
          case AccessDeniedException x when x.getReason() == null -> 13;
          case FileAlreadyExistsException x when x.getReason() == null -> 17;
          case NotDirectoryException x when x.getReason() == null -> 20;
          case DirectoryNotEmptyException x when x.getReason() == null -> 39;
          case FileSystemException x when x.getReason() != null -> LibC.errnoOfText(x.getReason());
          case FileSystemException x -> 0;
          // sockets report the errno's text as the message
          default -> e.getMessage() == null ? 0 : LibC.errnoOfText(e.getMessage());
        };
    if (errno != 0) {
      return LibC.describeErrno(errno);
    }
    return e instanceof FileSystemException f && f.getReason() != null
        ? f.getReason()
        : e.getMessage();
  }

  /** "cannot read {what} FILE: ENOENT (...)", for an input the command could not read. */
  static UserError cannotRead(String what, Path file, IOException e, int exitCode) {
    return new UserError(
        "cannot read " + what + " " + file + ": " + errno(e) + hint(file, e), exitCode);
  }

  /**
   * Creates (or truncates) an output file now, as strace does with {@code -o}, so that a bad path
   * fails before anything runs instead of after.
   */
  static void checkWritable(String option, Path file, int exitCode) {
    if (file == null) {
      return;
    }
    try (OutputStream unused = Files.newOutputStream(file)) {
      // created
    } catch (IOException e) {
      throw new UserError(
          "cannot write " + option + " " + file + ": " + errno(e) + hint(file, e), exitCode);
    }
  }

  private static String hint(Path file, IOException e) {
    Path parent = file.toAbsolutePath().getParent();
    if (e instanceof NoSuchFileException && parent != null && !Files.isDirectory(parent)) {
      return "; the directory " + parent + " does not exist: create it first";
    }
    if (e instanceof AccessDeniedException) {
      return "; check the permissions of the file and its directory";
    }
    return "";
  }

  /** One line for a bad command line, the nearest command or option, and where help is. */
  static int onParameterError(ParameterException ex, String[] args) {
    CommandLine cmd = ex.getCommandLine();
    PrintWriter err = cmd.getErr();
    String name = cmd.getCommandSpec().qualifiedName();
    err.println(name + ": " + ex.getMessage());
    UnmatchedArgumentException.printSuggestions(ex, err);
    err.println("Try '" + name + " --help' for more information.");
    err.flush();
    return "exec".equals(cmd.getCommandName()) ? EXEC_FAILED : USAGE;
  }

  /** User errors as one line; anything else is a bug and keeps its stack trace. */
  static int onExecutionError(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
    PrintWriter err = cmd.getErr();
    String name = cmd.getCommandSpec().qualifiedName();
    int status;
    if (ex instanceof UserError u) {
      err.println(name + ": " + u.getMessage());
      status = u.exitCode();
    } else if (ex instanceof IOException io) {
      String file =
          io instanceof FileSystemException f && f.getFile() != null ? f.getFile() + ": " : "";
      err.println(name + ": " + file + errno(io));
      status = failureStatus(cmd);
    } else {
      err.println(name + ": internal error (please report it):");
      ex.printStackTrace(err);
      status = failureStatus(cmd);
    }
    err.flush();
    return status;
  }
}
