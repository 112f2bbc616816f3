# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  topic = ["arn:aws:sns:ap-northeast-1:222222222222:sss-prod-ops"]
}

################################################################################
# Service: api
################################################################################

# Fewer tasks run than ECS wants: a crash loop, failed placement or health checks.
resource "aws_cloudwatch_metric_alarm" "api_running" {
  alarm_name          = "sss-prod-api-running-below-desired"
  alarm_description   = "ECS service api runs fewer tasks than desired for 5 minutes"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic
  ok_actions          = local.topic

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "Desired minus running tasks"
    return_data = true
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      period      = 60
      stat        = "Average"
      dimensions = {
        ClusterName = var.cluster_name
        ServiceName = "api"
      }
    }
  }

  metric_query {
    id = "running"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      period      = 60
      stat        = "Average"
      dimensions = {
        ClusterName = var.cluster_name
        ServiceName = "api"
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_cpu_percent" {
  alarm_name          = "sss-prod-api-cpu-percent"
  alarm_description   = "ECS service api: CPUUtilization above 80% for 5 minutes"
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic
  ok_actions          = local.topic

  dimensions = {
    ClusterName = var.cluster_name
    ServiceName = "api"
  }
}

resource "aws_cloudwatch_metric_alarm" "api_memory_percent" {
  alarm_name          = "sss-prod-api-memory-percent"
  alarm_description   = "ECS service api: MemoryUtilization above 85% for 5 minutes"
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 85
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic
  ok_actions          = local.topic

  dimensions = {
    ClusterName = var.cluster_name
    ServiceName = "api"
  }
}

################################################################################
# Service: worker
################################################################################

# Fewer tasks run than ECS wants: a crash loop, failed placement or health checks.
resource "aws_cloudwatch_metric_alarm" "worker_running" {
  alarm_name          = "sss-prod-worker-running-below-desired"
  alarm_description   = "ECS service worker runs fewer tasks than desired for 5 minutes"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic
  ok_actions          = local.topic

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "Desired minus running tasks"
    return_data = true
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      period      = 60
      stat        = "Average"
      dimensions = {
        ClusterName = var.cluster_name
        ServiceName = "worker"
      }
    }
  }

  metric_query {
    id = "running"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      period      = 60
      stat        = "Average"
      dimensions = {
        ClusterName = var.cluster_name
        ServiceName = "worker"
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "worker_cpu_percent" {
  alarm_name          = "sss-prod-worker-cpu-percent"
  alarm_description   = "ECS service worker: CPUUtilization above 90% for 5 minutes"
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 90
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic
  ok_actions          = local.topic

  dimensions = {
    ClusterName = var.cluster_name
    ServiceName = "worker"
  }
}

resource "aws_cloudwatch_metric_alarm" "worker_memory_percent" {
  alarm_name          = "sss-prod-worker-memory-percent"
  alarm_description   = "ECS service worker: MemoryUtilization above 85% for 5 minutes"
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 85
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic
  ok_actions          = local.topic

  dimensions = {
    ClusterName = var.cluster_name
    ServiceName = "worker"
  }
}

################################################################################
# API
################################################################################

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "sss-prod-api-5xx-rate"
  alarm_description   = "HTTP API: more than 5% of requests answered 5xx for 5 minutes"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 5
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic
  ok_actions          = local.topic

  metric_query {
    id          = "rate"
    expression  = "100 * errors / requests"
    label       = "5xx share of requests (%)"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      period      = 60
      stat        = "Sum"
      dimensions = {
        ApiId = var.api_id
        Stage = "$default"
      }
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      period      = 60
      stat        = "Sum"
      dimensions = {
        ApiId = var.api_id
        Stage = "$default"
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_latency" {
  alarm_name          = "sss-prod-api-p99-integration-latency"
  alarm_description   = "HTTP API: p99 integration latency above 3000 ms for 5 minutes"
  namespace           = "AWS/ApiGateway"
  metric_name         = "IntegrationLatency"
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 3000
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic
  ok_actions          = local.topic

  dimensions = {
    ApiId = var.api_id
    Stage = "$default"
  }
}

################################################################################
# Deployment failures
################################################################################

# The circuit breaker rolled a deployment back ("ECS Deployment State Change",
# SERVICE_DEPLOYMENT_FAILED). The topic's policy must let events.amazonaws.com publish.
resource "aws_cloudwatch_event_rule" "deployment_failed" {
  name        = "sss-prod-deployment-failed"
  description = "ECS deployments of sss-prod that failed and rolled back"
  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Deployment State Change"]
    resources     = [{ prefix = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:service/${var.cluster_name}/" }]
    detail = {
      eventName = ["SERVICE_DEPLOYMENT_FAILED"]
    }
  })
}

resource "aws_cloudwatch_event_target" "deployment_failed" {
  rule = aws_cloudwatch_event_rule.deployment_failed.name
  arn  = "arn:aws:sns:ap-northeast-1:222222222222:sss-prod-ops"
}
