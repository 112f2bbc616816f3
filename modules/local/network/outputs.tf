# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

################################################################################
# VPC
################################################################################

output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone."
  value = [
    aws_subnet.private_1.id,
    aws_subnet.private_2.id,
  ]
}

# Tasks pull images, read secrets and ship logs through the subnets' way out, so
# the ECS services take their subnets from here: known only once that way exists.
output "task_subnet_ids" {
  description = "IDs of the private subnets, once their routes, route-table associations and endpoints exist."
  value = [
    aws_subnet.private_1.id,
    aws_subnet.private_2.id,
  ]
  depends_on = [
    aws_route_table_association.private_1,
    aws_route_table_association.private_2,
  ]
}
