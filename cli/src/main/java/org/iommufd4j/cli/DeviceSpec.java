package org.iommufd4j.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * One {@code --device MODEL[@BDF][,key=value...]}: which model, where (null: the next free
 * address), in which IOMMU group (null: a group of its own) and the model's own options.
 */
record DeviceSpec(DeviceModel model, String bdf, Integer group, Map<String, String> options) {
  /** The functions the testbed presents: domain 0000, bus 00, devices 00-1f. */
  private static final Pattern BDF = Pattern.compile("0000:00:[01][0-9a-f]\\.[0-7]");

  static final String GROUP = "group";

  DeviceSpec {
    options = Map.copyOf(options);
  }

  /**
   * Parses one {@code --device} value.
   *
   * @throws IllegalArgumentException with a one-line message saying what is wrong
   */
  static DeviceSpec parse(String text) {
    String[] parts = text.split(",", -1);
    String head = parts[0];
    int at = head.indexOf('@');
    String name = at < 0 ? head : head.substring(0, at);
    DeviceModel model =
        DeviceModel.named(name)
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        (name.isEmpty() ? "no model" : "unknown model '" + name + "'")
                            + " (known: "
                            + DeviceModel.names()
                            + ")"));
    String bdf = null;
    if (at >= 0) {
      bdf = head.substring(at + 1).toLowerCase(Locale.ROOT);
      if (!BDF.matcher(bdf).matches()) {
        throw new IllegalArgumentException(
            "'"
                + head.substring(at + 1)
                + "' is not an address "
                + "0000:00:DD.F on the root bus (DD 00-1f, F 0-7)");
      }
    }
    Integer group = null;
    Map<String, String> options = new LinkedHashMap<>();
    for (int i = 1; i < parts.length; i++) {
      int eq = parts[i].indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("'" + parts[i] + "' is not key=value");
      }
      String key = parts[i].substring(0, eq);
      String value = parts[i].substring(eq + 1);
      if (key.equals(GROUP) ? group != null : options.containsKey(key)) {
        throw new IllegalArgumentException(key + " given twice");
      }
      if (key.equals(GROUP)) {
        long n = DeviceModel.number(GROUP, value);
        if (n > Integer.MAX_VALUE) {
          throw new IllegalArgumentException("group=" + value + " is too large");
        }
        group = (int) n;
      } else if (model.optionKeys().contains(key)) {
        options.put(key, value);
      } else {
        throw new IllegalArgumentException(
            name
                + " has no option '"
                + key
                + "' (it takes: "
                + String.join(", ", keys(model))
                + ")");
      }
    }
    model.factory(bdf, options, new Object()); // checks the values now, not when the program runs
    return new DeviceSpec(model, bdf, group, options);
  }

  private static List<String> keys(DeviceModel model) {
    return Stream.concat(Stream.of(GROUP), model.optionKeys().stream().sorted()).toList();
  }

  /** picocli's hook: a bad spec is a usage error naming the option. */
  static final class Converter implements ITypeConverter<DeviceSpec> {
    @Override
    public DeviceSpec convert(String value) {
      try {
        return parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}
