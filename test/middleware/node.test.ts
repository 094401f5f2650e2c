/**
 * The node adapter (`sessionHandler`) through the shared behaviour suite.
 */
import t from 'tap'
import { SessionManager } from '../../lib/index.js'
import { sessionHandler } from '../../middleware/node.js'
import { behaviour } from './behaviour.js'
import { requestEnd } from './request-end.js'
import { nodeApp } from './helpers/apps.js'

behaviour('node sessionHandler', nodeApp)
requestEnd('node sessionHandler', nodeApp)

t.test('node sessionHandler: refuses a non-manager or a non-function', async (t) => {
  const manager = new SessionManager()
  t.throws(() => sessionHandler({} as SessionManager, () => {}), { code: 'ERR_CONFIG' })
  t.throws(() => sessionHandler(manager, 'x' as unknown as () => void), { code: 'ERR_CONFIG' })
})
