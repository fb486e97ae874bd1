from channels.auth import AuthMiddlewareStack

HubAuthMiddlewareStack = AuthMiddlewareStack
