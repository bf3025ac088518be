import { RegoError } from '@contrast-cc/rego';
import { describe, expect, it } from 'vitest';
import { AgentPolicy } from './agent.js';

describe('AgentPolicy (agent contract)', () => {
  const policy = `package agent_policy
default CreateContainerRequest := {"allowed": false}
default ExecProcessRequest := false
CreateContainerRequest := {"allowed": true, "ops": ops} if {
  not data.pstate[input.container_id]
  ops := [{"op": "add", "path": sprintf("/pstate/%s", [input.container_id]), "value": 1}]
}
ExecProcessRequest if { data.pstate[input.container_id] == 1 }
`;
  it('applies ops between requests only when allowed', () => {
    const a = new AgentPolicy(policy);
    expect(a.evaluate('ExecProcessRequest', { container_id: 'c1' }).allowed).toBe(false);
    expect(a.evaluate('CreateContainerRequest', { container_id: 'c1' }).allowed).toBe(true);
    expect(a.state).toEqual({ c1: 1 });
    expect(a.evaluate('ExecProcessRequest', { container_id: 'c1' }).allowed).toBe(true);
    expect(a.evaluate('CreateContainerRequest', { container_id: 'c1' }).allowed).toBe(false);
    expect(a.state).toEqual({ c1: 1 });
  });

  it('no result is an error, not a denial', () => {
    const a = new AgentPolicy('package agent_policy\nX if { false }');
    expect(() => a.evaluate('X', {})).toThrow(/no result/);
    expect(() => a.evaluate('Y', {})).toThrow(RegoError);
  });
});
