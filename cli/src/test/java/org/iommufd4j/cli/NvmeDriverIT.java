package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user-space NVMe driver in C ({@code bridge/native/tests/nvme/}, built by the bridge module)
 * drives {@code exec --device nvme} end to end, once through the VFIO cdev and iommufd and once
 * through the group and a type-1 container: bring-up, Identify, queue creation with each
 * bad-argument status, I/O verified at queue depths 1, 8 and 32 on a polled queue and on one with
 * an MSI-X vector, PRP shapes and their errors, an SGL and its errors, Flush, Write Zeroes, Dataset
 * Management, the I/O error statuses, deletion and shutdown. Every answer is checked by the driver
 * against NVMe 1.4; this test checks it got through all of them, and that what it wrote reached the
 * backing file.
 */
class NvmeDriverIT {
  private static final Path NVME_CHECK =
      Path.of("../bridge/target/native/tests/nvme_check").toAbsolutePath().normalize();
  private static final long SEED = Long.getLong("seed", 1234);

  /** What each stage of the driver prints once it passed (the whole list is in its output). */
  private static final List<String> STAGES =
      List.of(
          "ok enable: CSTS.RDY within CAP.TO",
          "ok Identify controller MN: 'QEMU NVMe Ctrl'",
          "ok Number of Queues allocated: 64 SQs, 64 CQs: 0x3f003f",
          "ok Delete I/O CQ 5 while SQ 5 uses it: 0x410c Invalid Queue Deletion",
          "ok queue 1 (polled): 16 writes and reads at depth 1 verified",
          "ok queue 1 (polled): 64 writes and reads at depth 8 verified",
          "ok queue 1 (polled): 128 writes and reads at depth 32 verified",
          "ok queue 2 (MSI-X): 32 writes and reads at depth 8 verified",
          "ok vector 1's eventfd signalled queue 2's completions",
          "ok data written through a chained PRP list reads back",
          "ok Read with PRP1 not dword aligned: 0x4013 PRP Offset Invalid",
          "ok data gathered by an SGL reads back",
          "ok Read into a Bit Bucket (not supported): 0x4011 SGL Descriptor Type Invalid",
          "ok Write Zeroes and deallocated blocks read as zeroes, the others kept the pattern",
          "ok Read at LBA NSZE: 0x4080 LBA Out of Range",
          "ok reserved I/O opcode 0x7c: 0x4001 Invalid Command Opcode",
          "ok shutdown: CSTS.SHST complete");

  @BeforeAll
  static void driverIsBuilt() {
    assertThat(NVME_CHECK).as("built by the bridge module").isRegularFile();
  }

  private static List<String> run(Path output, String device, String path) throws IOException {
    CliRun run =
        CliRun.of(
            "exec",
            "--device",
            device,
            "--",
            "sh",
            "-c",
            "exec \"$0\" \"$1\" \"$2\" >" + output + " 2>&1",
            NVME_CHECK.toString(),
            path,
            Long.toString(SEED));
    List<String> lines = Files.readAllLines(output);
    assertThat(run.status())
        .as("nvme_check %s (seed %d): %s%s", path, SEED, run.err(), String.join("\n", lines))
        .isZero();
    assertThat(lines).as("no check failed").noneMatch(l -> l.contains("FAIL"));
    assertThat(lines).containsSubsequence(STAGES);
    String summary = lines.getLast();
    assertThat(summary).matches("nvme_check " + path + ": \\d+ checks passed");
    long passed = lines.stream().filter(l -> l.startsWith("ok ")).count();
    assertThat(summary).isEqualTo("nvme_check " + path + ": " + passed + " checks passed");
    return lines;
  }

  @Test
  void theCDriverRunsEveryCheckThroughTheCdevAndIommufd(@TempDir Path dir) throws Exception {
    List<String> lines = run(dir.resolve("out"), "nvme", "cdev");
    assertThat(lines).contains("ok opened 0000:00:04.0 through the cdev and iommufd");
  }

  @Test
  void theCDriverRunsEveryCheckThroughTheGroupAndContainerOnAFile(@TempDir Path dir)
      throws Exception {
    Path disk = dir.resolve("disk.img");
    List<String> lines = run(dir.resolve("out"), "nvme@0000:00:07.0,backing=" + disk, "group");
    assertThat(lines).contains("ok opened 0000:00:07.0 through the group and container");
    ByteBuffer block = ByteBuffer.allocate(512);
    try (FileChannel file = FileChannel.open(disk)) {
      file.read(block, 1000 * 512L);
    }
    String signed = new String(block.array(), StandardCharsets.US_ASCII);
    int end = signed.indexOf('\0');
    assertThat(end).as("the signature ends in the block").isPositive();
    assertThat(signed.substring(0, end))
        .as("LBA 1000, which the driver signed, in the backing file")
        .isEqualTo("iommufd4j nvme_check group " + SEED);
    assertThat(signed.substring(end)).as("the rest of the block").matches("\0*");
  }
}
