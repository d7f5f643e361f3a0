"""seawall inside Apache Spark: the same compiled rules and stateful engine over a log lake.

    from seawall.spark import local_session, detect_files
    spark = local_session("local[2]")
    result = detect_files(spark, ["s3a://bucket/AWSLogs/"], DetectOptions(source="cloudtrail", paths=[]))

`seawall detect --engine spark` runs the same thing from the command line (see docs/spark.md).
"""

from seawall.spark.detect import SparkDetection, detect_files
from seawall.spark.session import local_session, spark_available

__all__ = ["SparkDetection", "detect_files", "local_session", "spark_available"]
