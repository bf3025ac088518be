export { type PeerAddress, type PeerSource, parsePeerList, staticPeers } from './peer-list.js';
