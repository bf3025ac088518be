/** Our Kata agent rules (package agent_policy). Written for this project; see README.md. */
export const RULES_REGO = `package agent_policy

import future.keywords.in
import future.keywords.every
import future.keywords.if

default AllowRequestsFailingPolicy := false
default CreateContainerRequest := false
`;
