package org.iommufd4j.cli;

/** PLACEHOLDER: the picocli entry point. */
public final class Main {
  public static void main(String[] args) {
    System.out.println("iommufd4j");
  }
}
