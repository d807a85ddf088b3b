/**
 * `teleport-plugin configure --plugin gitlab`: the `[gitlab]` and `[http]` tables, commented.
 * A Go teleport-gitlab file (with its `[db]` table) loads unchanged too.
 */
export function exampleConfig(): string {
  return `# GitLab adapter for teleport-plugin (same keys as the Go teleport-gitlab plugin).
# Opens an issue for each access request (label "Teleport: Pending"), adds reviews as notes, and
# closes it with the outcome's label when the request is decided or expires. A reviewer approves
# or denies by adding the "Teleport: Approved" or "Teleport: Denied" label to the issue.
# The token needs the api scope and the Maintainer role in the project (to manage its webhook);
# the plugin's Teleport role needs access_request [list, read, update] (it sets decided states).
[gitlab]
# Instance URL; leave empty for https://gitlab.com.
url = ""
# Personal, project or group access token (scope: api). A value starting with "/" is read from
# that file.
token = "/var/lib/teleport/plugins/gitlab/token"
# Numeric project ID ("Settings > General") or full path ("group/project").
project_id = "1812345"
# Registered as the webhook's secret token; GitLab sends it back with every call.
webhook_secret = "your webhook passphrase"

[http]
# The address GitLab reaches this plugin at. The webhook is registered as
# <public_addr>/gitlab/webhook (the Go plugin used <public_addr>/webhook).
public_addr = "https://teleport-plugins.example.com"
listen_addr = ":8081"
https_key_file = "/var/lib/teleport/plugins/gitlab/server.key"
https_cert_file = "/var/lib/teleport/plugins/gitlab/server.crt"
`;
}
