"""Spark on lake's tables: the local Spark environment (env) and the catalog settings for a profile (conf)."""

from lakehouse.io.spark.conf import env_conf, spark_conf, spark_submit_args
from lakehouse.io.spark.env import SparkEnv, find_spark_env

__all__ = ["SparkEnv", "env_conf", "find_spark_env", "spark_conf", "spark_submit_args"]
