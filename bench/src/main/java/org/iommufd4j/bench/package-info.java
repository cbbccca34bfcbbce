/**
 * JMH benchmarks. Run {@code java -jar bench/target/benchmarks.jar -l} for the list; every
 * benchmark forks with native access enabled. Ratios matter more than absolute figures on these
 * 2-core machines: compare benchmarks measured in the same run.
 */
package org.iommufd4j.bench;
