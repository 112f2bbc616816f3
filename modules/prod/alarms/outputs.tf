# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

################################################################################
# Alarms
################################################################################

output "alarm_names" {
  description = "Names of the CloudWatch alarms (hclforge status lists those in ALARM)."
  value = [
    aws_cloudwatch_metric_alarm.api_running.alarm_name,
    aws_cloudwatch_metric_alarm.api_cpu_percent.alarm_name,
    aws_cloudwatch_metric_alarm.api_memory_percent.alarm_name,
    aws_cloudwatch_metric_alarm.worker_running.alarm_name,
    aws_cloudwatch_metric_alarm.worker_cpu_percent.alarm_name,
    aws_cloudwatch_metric_alarm.worker_memory_percent.alarm_name,
    aws_cloudwatch_metric_alarm.api_5xx.alarm_name,
    aws_cloudwatch_metric_alarm.api_latency.alarm_name,
  ]
}
