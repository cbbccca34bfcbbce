package org.iommufd4j.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Renders the SVG with headless Chromium and looks at the pixels: the page is drawn, areas, the
 * domain's reserved hatching, the device's and the test's reserved ranges and the allowed range all
 * show in their colours. Skipped, saying why, where Chromium is not installed (CI may not have it);
 * {@link SvgRendererTest} is the always-on check.
 */
class SvgChromiumIT {
  private static final List<String> NAMES =
      List.of("chromium", "chromium-browser", "google-chrome");

  private static Path chromium() {
    String path = System.getenv().getOrDefault("PATH", "");
    return Stream.of(path.split(File.pathSeparator))
        .flatMap(dir -> NAMES.stream().map(n -> Path.of(dir, n)))
        .filter(Files::isExecutable)
        .findFirst()
        .orElse(null);
  }

  @Test
  void chromiumDrawsEveryKindOfRangeInItsColour(@TempDir Path dir)
      throws IOException, InterruptedException {
    Path browser = chromium();
    assumeTrue(
        browser != null,
        "Chromium is not installed (looked for "
            + NAMES
            + " on the PATH): the SVG is checked at the XML level only");
    Path svg = dir.resolve("iova.svg");
    Path png = dir.resolve("iova.png");
    Files.writeString(svg, Samples.everything().toSvg());
    Process p =
        new ProcessBuilder(
                browser.toString(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--user-data-dir=" + dir.resolve("profile"),
                "--screenshot=" + png,
                "--window-size=1400,900",
                svg.toUri().toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("chromium.log").toFile())
            .start();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("chromium finished").isTrue();
    assertThat(png)
        .as("screenshot; log: %s", Files.readString(dir.resolve("chromium.log")))
        .exists();

    BufferedImage image = ImageIO.read(png.toFile());
    assertThat(image.getWidth()).isEqualTo(1400);
    assertThat(count(image, 0xffffff)).as("white background").isGreaterThan(100_000);
    assertThat(count(image, 0x2563eb)).as("rw areas").isGreaterThan(500);
    assertThat(count(image, 0x93c5fd)).as("read-only area").isGreaterThan(500);
    assertThat(count(image, 0x9ca3af)).as("domain hatching").isGreaterThan(500);
    assertThat(count(image, 0xf59e0b) + count(image, 0xfde68a))
        .as("device hatching")
        .isGreaterThan(100);
    assertThat(count(image, 0xe9d5ff)).as("test reserved").isGreaterThan(200);
    assertThat(count(image, 0xbbf7d0)).as("allowed").isGreaterThan(2000);
    assertThat(count(image, 0xe0f2fe)).as("aperture").isGreaterThan(2000);
  }

  /** Pixels within a small distance of {@code rgb} (anti-aliasing blurs edges). */
  private static int count(BufferedImage image, int rgb) {
    int n = 0;
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        int c = image.getRGB(x, y);
        if (Math.abs(((c >> 16) & 0xff) - ((rgb >> 16) & 0xff)) <= 3
            && Math.abs(((c >> 8) & 0xff) - ((rgb >> 8) & 0xff)) <= 3
            && Math.abs((c & 0xff) - (rgb & 0xff)) <= 3) {
          n++;
        }
      }
    }
    return n;
  }
}
