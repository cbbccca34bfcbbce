package org.iommufd4j.junit;

import java.lang.reflect.AnnotatedElement;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.iommufd4j.Configuration;
import org.iommufd4j.DomainModel;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Iommufd;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.inspect.Snapshot.ObjectType;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * A fresh emulated {@link Iommufd} for every test, checked and closed after it.
 *
 * {@snippet :
 * @ExtendWith(IommufdExtension.class)
 * @IommufdConfig(memlockLimit = 1 << 20)
 * class MyDriverTest {
 *   @Test
 *   void ringIsMapped(Iommufd iommufd, EmulatedDevice nic) {
 *     Ioas ioas = iommufd.createIoas();
 *     nic.attach(ioas);
 *     // ...
 *   }
 * }
 * }
 *
 * <p>What it injects, into test and lifecycle method parameters and into non-static fields that are
 * {@code null} before each test: {@link Iommufd} (one per test and {@link IommufdConfig}, so a
 * {@code @BeforeEach} method and the test share it), {@link EmulatedDevice} (a new device on that
 * context behind the configured {@link IommufdConfig#domainModel()}), and {@link DomainModel}.
 * Every context runs on an emulated machine of its own, so its pins and charges are its own.
 *
 * <p>After each test (after the test's own {@code @AfterEach} methods) it fails the test if the
 * test left anything behind (objects it created and did not destroy or close, devices still
 * attached, pinned pages; {@link IommufdConfig#allowLeftovers()} allows that on purpose), runs the
 * engine's invariant checker, closes the context, and fails the test if the emulator leaked:
 * objects still alive after close (an access or fault fd left open keeps the context), pinned
 * pages, or memory-lock charges. When a test fails, the state of its contexts at that moment
 * ({@link Iommufd#inspect()} as a table: objects, IOAS areas, reserved and allowed ranges, HWPTs,
 * devices, accesses, pins) is printed to standard error and published as a report entry named
 * {@value #STATE_ENTRY}.
 */
public final class IommufdExtension
    implements BeforeEachCallback, AfterEachCallback, ParameterResolver {
  /** The report entry key under which the state of a failed test's context is published. */
  public static final String STATE_ENTRY = "iommufd4j-state";

  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(IommufdExtension.class);
  private static final String KEY = "contexts";

  /** JUnit creates it, from {@code @ExtendWith(IommufdExtension.class)}. */
  public IommufdExtension() {}

  /** What one test opened: a context per configuration, and the fields filled in. */
  private static final class Opened {
    final Map<IommufdConfig, Iommufd> contexts = new HashMap<>();
    final Set<Integer> injectedDevices = new HashSet<>();
    final List<Field> fields = new ArrayList<>();
    final List<Object> fieldOwners = new ArrayList<>();

    Iommufd context(IommufdConfig config) {
      return contexts.computeIfAbsent(config, IommufdExtension::open);
    }
  }

  /** The configuration of a test class or method with no {@link IommufdConfig} of its own. */
  @IommufdConfig
  private static final class Defaults {}

  private static final IommufdConfig DEFAULTS = Defaults.class.getAnnotation(IommufdConfig.class);

  static Iommufd open(IommufdConfig c) {
    return Iommufd.emulated(
        Configuration.builder()
            .privateHost(true)
            .memlockLimit(c.memlockLimit())
            .testAbi(c.testAbi())
            .capIpcLock(c.capIpcLock())
            .capSysResource(c.capSysResource())
            .vfioContainer(c.vfioContainer())
            .build());
  }

  private static Opened opened(ExtensionContext context) {
    return context.getStore(NAMESPACE).getOrComputeIfAbsent(KEY, k -> new Opened(), Opened.class);
  }

  /** The nearest configuration: the element's own, then the test method's, then the class's. */
  private static IommufdConfig config(ExtensionContext context, AnnotatedElement element) {
    Optional<IommufdConfig> own =
        element == null
            ? Optional.empty()
            : AnnotationSupport.findAnnotation(element, IommufdConfig.class);
    return own.or(
            () ->
                context
                    .getTestMethod()
                    .flatMap(m -> AnnotationSupport.findAnnotation(m, IommufdConfig.class)))
        .or(
            () ->
                context
                    .getTestClass()
                    .flatMap(c -> AnnotationSupport.findAnnotation(c, IommufdConfig.class)))
        .orElse(DEFAULTS);
  }

  private static boolean injectable(Class<?> type) {
    return type == Iommufd.class || type == EmulatedDevice.class || type == DomainModel.class;
  }

  private static Object value(Class<?> type, IommufdConfig config, Opened opened) {
    if (type == DomainModel.class) {
      return config.domainModel().domainModel();
    }
    Iommufd iommufd = opened.context(config);
    if (type == Iommufd.class) {
      return iommufd;
    }
    EmulatedDevice device = iommufd.createDevice(config.domainModel().domainModel());
    opened.injectedDevices.add(device.id());
    return device;
  }

  // ---- parameters --------------------------------------------------------------------------

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return injectable(parameter.getParameter().getType());
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    if (parameter.getDeclaringExecutable() instanceof Constructor<?>
        || context.getTestMethod().isEmpty()) {
      throw new ParameterResolutionException(
          "IommufdExtension injects "
              + parameter.getParameter().getType().getSimpleName()
              + " per test: into test, "
              + "@BeforeEach and @AfterEach parameters and instance fields, not into "
              + parameter.getDeclaringExecutable());
    }
    return value(
        parameter.getParameter().getType(),
        config(context, parameter.getParameter()),
        opened(context));
  }

  // ---- fields ------------------------------------------------------------------------------

  @Override
  public void beforeEach(ExtensionContext context) throws IllegalAccessException {
    Opened opened = opened(context);
    for (Object instance : context.getRequiredTestInstances().getAllInstances()) {
      for (Class<?> c = instance.getClass(); c != Object.class; c = c.getSuperclass()) {
        for (Field f : c.getDeclaredFields()) {
          int mods = f.getModifiers();
          if (!injectable(f.getType()) || Modifier.isStatic(mods) || Modifier.isFinal(mods)) {
            continue;
          }
          f.setAccessible(true);
          if (f.get(instance) == null) {
            f.set(instance, value(f.getType(), config(context, f), opened));
            opened.fields.add(f);
            opened.fieldOwners.add(instance);
          }
        }
      }
    }
  }

  // ---- after the test ----------------------------------------------------------------------

  @Override
  public void afterEach(ExtensionContext context) throws IllegalAccessException {
    Opened opened = context.getStore(NAMESPACE).remove(KEY, Opened.class);
    if (opened == null) {
      return;
    }
    for (int i = 0; i < opened.fields.size(); i++) {
      opened.fields.get(i).set(opened.fieldOwners.get(i), null); // re-injected next test
    }
    List<String> problems = new ArrayList<>();
    StringBuilder states = new StringBuilder();
    boolean failed = context.getExecutionException().isPresent();
    for (Map.Entry<IommufdConfig, Iommufd> e : opened.contexts.entrySet()) {
      Iommufd iommufd = e.getValue();
      IommufdConfig config = e.getKey();
      Snapshot before = iommufd.inspect();
      states.append(before.toTable());
      if (!config.allowLeftovers() && !failed) { // after a failure, leftovers are expected
        problems.addAll(leftovers(before, opened.injectedDevices));
      }
      if (config.checkInvariants()) {
        for (String p : iommufd.checkInvariants()) {
          problems.add("broken engine invariant: " + p);
        }
      }
      iommufd.close();
      if (config.checkLeaks()) {
        problems.addAll(leaks(iommufd));
      }
    }
    if (failed) {
      context.publishReportEntry(STATE_ENTRY, states.toString());
      System.err.print(
          "iommufd4j state of the failed test " + context.getDisplayName() + ":\n" + states);
    }
    if (!problems.isEmpty()) {
      throw new AssertionError(
          "iommufd4j: "
              + String.join("; ", problems)
              + "\nstate at the end of the test:\n"
              + states);
    }
  }

  /**
   * What the test itself left behind before the context is closed: objects it created and did not
   * destroy (the devices the extension injected are its own, unless still attached), devices still
   * attached, and pages still pinned.
   */
  private static List<String> leftovers(Snapshot s, Set<Integer> injectedDevices) {
    List<String> out = new ArrayList<>();
    List<String> objects =
        s.objects().stream()
            .filter(o -> !(o.type() == ObjectType.DEVICE && injectedDevices.contains(o.id())))
            .map(o -> o.type().name().toLowerCase(Locale.ROOT) + " " + o.id())
            .toList();
    if (!objects.isEmpty()) {
      out.add("the test left objects it did not destroy or close: " + String.join(", ", objects));
    }
    List<String> attached =
        s.devices().stream()
            .filter(d -> d.hwptId() != 0)
            .map(d -> "device " + d.id() + " (hwpt " + d.hwptId() + ")")
            .toList();
    if (!attached.isEmpty()) {
      out.add("devices still attached: " + String.join(", ", attached));
    }
    if (s.host().pinnedFrames() != 0) {
      out.add(
          s.host().pinnedFrames()
              + " pages still pinned (mapped into a domain or pinned by "
              + "an access)");
    }
    if (!out.isEmpty()) {
      out.add("(@IommufdConfig(allowLeftovers = true) allows this on purpose)");
    }
    return out;
  }

  private static List<String> leaks(Iommufd closed) {
    List<String> leaks = new ArrayList<>();
    Snapshot after = closed.inspect();
    int objects = after.objects().size();
    if (!after.tornDown()) {
      leaks.add(
          "the context is still alive after close(): "
              + objects
              + " objects held, is an access or fault fd still open? (Iommufd.closeFd)");
    } else if (objects != 0) {
      leaks.add(objects + " objects left after close()");
    }
    if (after.host().pinnedFrames() != 0) {
      leaks.add(after.host().pinnedFrames() + " pages still pinned");
    }
    if (after.host().chargedPages() != 0) {
      leaks.add("memory-lock charges left: " + after.host().chargedPages() + " pages");
    }
    return leaks;
  }
}
