# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

################################################################################
# Addons
################################################################################

variable "addon_arns" {
  description = "Attributes of addon resources granted to task roles, by addon:<type>.<name>.<attribute> reference."
  type        = map(string)
  nullable    = false
}
