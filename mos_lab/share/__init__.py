"""Shared sessions on Jupyter's own CRDT stack: pycrdt documents over pycrdt-websocket.

Map::

    RoomServer(secret, max_peers=1200, joins_per_second=500)   async start()/stop(), url
      .token(room, user, role="member"|"owner")                a room token (HMAC-signed)
    SharedSession(url, room, token, user=, owner=)             await connect(), close()
      .transport  .position()  .play(lead)  .pause()  .seek(s)  .grant(user)
      .set_note(id, onset, dur, pitch)  .label(tick, text)  .annotate(tick, text)
      .load_score(score)  .snapshot()  .on_transport(cb)
      .select(start, end)  .cursor(tick)  .presence()  .on_presence(cb)   live, not stored
    follow(session, engine)          a local engine plays from the shared position
    JitterBuffer(delay_s=0.08).push(sent, payload, now)  .pop_due(now) -> [Timed]

A room is two pycrdt documents (control: transport and grants, written by the owner and
whom they grant; content: score, labels, annotations, written by members) and the peers'
presence (selections, cursors: pycrdt awareness, ephemeral, as in jupyter-collaboration),
kept by pycrdt-websocket's rooms behind a tornado websocket server that checks tokens,
write rights, malformed messages and connection storms. pycrdt, pycrdt-websocket and
tornado come with the ``share`` extra and are imported only when used.
"""

__all__: list[str] = []
