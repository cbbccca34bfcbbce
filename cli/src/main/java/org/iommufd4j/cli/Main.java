package org.iommufd4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The {@code iommufd4j} command line; {@code ./run.sh} with no arguments runs {@code demo}. */
@Command(
    name = "iommufd4j",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "The Linux iommufd interface (/dev/iommu) in user space.",
    subcommands = {
      DemoCommand.class,
      InspectCommand.class,
      BenchCommand.class,
      FuzzCommand.class,
      ExecCommand.class,
      ServeCommand.class,
      ReplayCommand.class,
      TraceCommand.class,
      DiffCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {

  @Override
  public void run() {
    new CommandLine(new DemoCommand()).execute();
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit status (used by tests). */
  static int run(String... args) {
    return commandLine().execute(args);
  }

  /** The command line with every parser setting the commands need. */
  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    addHelpOption(cl);
    cl.setParameterExceptionHandler(CliErrors::onParameterError);
    cl.setExecutionExceptionHandler(CliErrors::onExecutionError);
    // exec: options after PROGRAM are PROGRAM's, with or without "--"
    cl.getSubcommands().get("exec").setStopAtPositional(true);
    return cl;
  }

  /** {@code -h}/{@code --help} on every command, not only the top one. */
  private static void addHelpOption(CommandLine cl) {
    for (CommandLine sub : cl.getSubcommands().values()) {
      CommandSpec spec = sub.getCommandSpec();
      if (spec.findOption("--help") == null) {
        spec.addOption(
            OptionSpec.builder("-h", "--help")
                .usageHelp(true)
                .description("Show this help message and exit.")
                .build());
      }
      addHelpOption(sub);
    }
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {
        "iommufd4j "
            + (v == null ? "(development build)" : v)
            + ", emulating Linux 6.12 iommufd; Java "
            + Runtime.version()
      };
    }
  }
}
