import { benchmarkRunsInTinyMode } from '../helpers/bench.ts'

benchmarkRunsInTinyMode('commands')
