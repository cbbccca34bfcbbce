package org.iommufd4j;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The two front doors: the byte ABI ({@code ioctl(request, segment)}) and the typed API, plus the
 * typed API of the real-kernel backend ({@link IoctlIommufd}) driven over the byte ABI. A
 * conformance scenario annotated {@link BothDoors} runs once through each and asserts the same
 * errno every time.
 */
enum FrontDoor {
  RAW {
    @Override
    Door open(Iommufd iommufd) {
      return new RawDoor(iommufd);
    }
  },
  TYPED {
    @Override
    Door open(Iommufd iommufd) {
      return new TypedDoor(iommufd);
    }
  },
  /** The typed API of the real-kernel backend, issuing ioctls to the emulator's byte ABI. */
  TYPED_OVER_IOCTL {
    @Override
    Door open(Iommufd iommufd) {
      return new TypedDoor(new IoctlOverEmulator(iommufd), iommufd);
    }
  };

  abstract Door open(Iommufd iommufd);

  /** Runs the test once per {@link FrontDoor}; the test takes the door as its first parameter. */
  @Target(ElementType.METHOD)
  @Retention(RetentionPolicy.RUNTIME)
  @ParameterizedTest(name = "{0}")
  @EnumSource(FrontDoor.class)
  @interface BothDoors {}
}
