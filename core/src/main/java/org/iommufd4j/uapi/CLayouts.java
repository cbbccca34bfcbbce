package org.iommufd4j.uapi;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The C types of the uapi headers as {@link MemoryLayout}s (x86-64 and every other little-endian
 * LP64 ABI: {@code __u64} and {@code __aligned_u64} are both 8-byte aligned), and the one way the
 * layout classes derive their offset constants. Members carry their C names, reserved fields
 * included, so the layouts compare name by name with the header (the {@code uapi_layouts} C test).
 */
final class CLayouts {
  static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
  static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);

  private CLayouts() {}

  static MemoryLayout u8(String name) {
    return U8.withName(name);
  }

  static MemoryLayout u16(String name) {
    return U16.withName(name);
  }

  static MemoryLayout u32(String name) {
    return U32.withName(name);
  }

  /** {@code __u64} or {@code __aligned_u64}. */
  static MemoryLayout u64(String name) {
    return U64.withName(name);
  }

  /** {@code __u8 name[count]}; a flexible array member when {@code count} is 0. */
  static MemoryLayout u8s(String name, long count) {
    return MemoryLayout.sequenceLayout(count, U8).withName(name);
  }

  /** {@code struct T name[count]}; a flexible array member when {@code count} is 0. */
  static MemoryLayout array(String name, long count, MemoryLayout element) {
    return MemoryLayout.sequenceLayout(count, element).withName(name);
  }

  /**
   * {@code struct name { members }}, padded at the end to its alignment as C pads it. A member
   * misaligned for its type (a missing reserved field) fails here, at class initialisation.
   */
  static StructLayout struct(String name, MemoryLayout... members) {
    StructLayout s = MemoryLayout.structLayout(members);
    long tail = s.byteSize() % s.byteAlignment();
    if (tail != 0) {
      List<MemoryLayout> padded = new ArrayList<>(List.of(members));
      padded.add(MemoryLayout.paddingLayout(s.byteAlignment() - tail));
      s = MemoryLayout.structLayout(padded.toArray(MemoryLayout[]::new));
    }
    return s.withName(name);
  }

  /** An anonymous {@code union { members }}: its members read as the enclosing struct's. */
  static UnionLayout union(MemoryLayout... members) {
    return MemoryLayout.unionLayout(members);
  }

  static int size(StructLayout layout) {
    return Math.toIntExact(layout.byteSize());
  }

  /**
   * Offset of the member at {@code path} ({@code "iova"}, {@code "header.next"}, {@code
   * "add_reserved.start"}), looking through anonymous unions and structs as C does.
   */
  static long offset(GroupLayout layout, String path) {
    return layout.byteOffset(resolve(layout, path));
  }

  /** {@code offsetofend}: the offset just past the member at {@code path}. */
  static int end(GroupLayout layout, String path) {
    PathElement[] elements = resolve(layout, path);
    return Math.toIntExact(layout.byteOffset(elements) + layout.select(elements).byteSize());
  }

  /** The layout of the member at {@code path}. */
  static MemoryLayout member(GroupLayout layout, String path) {
    return layout.select(resolve(layout, path));
  }

  private static PathElement[] resolve(GroupLayout layout, String path) {
    List<PathElement> elements = new ArrayList<>();
    MemoryLayout current = layout;
    for (String name : path.split("\\.")) {
      current = current instanceof GroupLayout g ? find(g, name, elements) : null;
      if (current == null) {
        throw new IllegalArgumentException(layout.name().orElse("struct") + " has no " + path);
      }
    }
    return elements.toArray(PathElement[]::new);
  }

  /** Appends the path elements from {@code group} to its member {@code name}; null if none. */
  private static MemoryLayout find(GroupLayout group, String name, List<PathElement> elements) {
    List<MemoryLayout> members = group.memberLayouts();
    for (int i = 0; i < members.size(); i++) {
      MemoryLayout m = members.get(i);
      if (m.name().filter(name::equals).isPresent()) {
        elements.add(PathElement.groupElement(i));
        return m;
      }
      if (m.name().isEmpty() && m instanceof GroupLayout anonymous) {
        int mark = elements.size();
        elements.add(PathElement.groupElement(i));
        MemoryLayout found = find(anonymous, name, elements);
        if (found != null) {
          return found;
        }
        elements.subList(mark, elements.size()).clear();
      }
    }
    return null;
  }
}
