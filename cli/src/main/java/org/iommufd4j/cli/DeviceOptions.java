package org.iommufd4j.cli;

import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.trace.Trace;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code --device}, shared by {@code exec} and {@code serve}. */
final class DeviceOptions {
  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  @Option(
      names = "--device",
      paramLabel = "MODEL[@BDF][,key=value...]",
      converter = DeviceSpec.Converter.class,
      description =
          "Present an emulated PCI device "
              + "bound to vfio-pci in sysfs (repeatable). Models: edu, virtio-net. BDF 0000:00:DD.F (default: "
              + "04.0 upwards); group=N (default: a group of its own); edu takes dma_mask=MASK; virtio-net takes backend=loopback|pair|pcap=FILE|tap, ifname=NAME (tap), "
              + "mac=xx:xx:xx:xx:xx:xx, queues=N, mrg_rxbuf=on|off, event_idx=on|off.")
  List<DeviceSpec> specs = new ArrayList<>();

  /**
   * The devices asked for, made; null when none were. Addresses or groups given twice are a usage
   * error; a backend that cannot be opened (a pcap file, a tap) fails the command in one line.
   */
  Devices create() {
    return create(null);
  }

  /** {@link #create()}, the models' timers recorded by {@code recorder} (or null). */
  Devices create(Trace.Writer recorder) {
    if (specs.isEmpty()) {
      return null;
    }
    try {
      return Devices.create(specs, recorder);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(mixee.commandLine(), "--device: " + e.getMessage());
    }
  }

  /** The devices as a recording's header names them. */
  List<Trace.Device> recorded() {
    try {
      return Devices.recorded(specs);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(mixee.commandLine(), "--device: " + e.getMessage());
    } catch (UncheckedIOException e) {
      throw new CliErrors.UserError(
          "--device: " + e.getMessage(), CliErrors.failureStatus(mixee.commandLine()));
    }
  }
}
