import type { InstanceResult, InstanceState, ModelInstance } from "../../../src/backends/backend.js";
import type { CoreRequest } from "../../../src/core/types.js";

/** An instance whose calls finish when the test says so. */
export class FakeInstance implements ModelInstance {
  state: InstanceState = "ready";
  /** What the handler's recent calls took; undefined as for an instance that has not run yet. */
  recentExecNs: number | undefined;
  readonly calls: { ids: string[]; finish(): void; fail(e: Error): void }[] = [];
  constructor(readonly name: string) {}
  get pending(): number {
    return this.calls.length;
  }
  execute(requests: CoreRequest[]): Promise<InstanceResult[]> {
    return new Promise((resolve, reject) => {
      const call = {
        ids: requests.map((r) => r.id),
        finish: () => {
          this.calls.splice(this.calls.indexOf(call), 1);
          resolve(requests.map((r) => ({ outputs: [], parameters: { by: this.name, id: r.id }, release() {} })));
        },
        fail: (e: Error) => {
          this.calls.splice(this.calls.indexOf(call), 1);
          reject(e);
        },
      };
      this.calls.push(call);
    });
  }
}

