from tests.test_browser_editor import open_editable, drag_wire, expect  # noqa

def test_dbg(page, page_server, page_api, screenshots):
    msgs = []
    page.on("console", lambda m: msgs.append(m.text))
    page.on("pageerror", lambda e: msgs.append(str(e)))
    graph, token = page_api.create({"example": "seed"})
    open_editable(page, page_server, graph, token)
    page.keyboard.press("e")
    drag_wire(page, "sigmoid", "linear", 0)
    page.wait_for_timeout(500)
    page.screenshot(path=str(screenshots / "dbg.png"))
    print(page.evaluate("() => [window.stepgrad.state.message, window.stepgrad.editor.error, window.stepgrad.editor.undo.length]"))
    print(msgs)
